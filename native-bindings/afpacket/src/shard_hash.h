// Symmetric flow hash used to pick a shard: both directions of a 5-tuple give the same
// value. Parses only what it needs (Ethernet with up to two VLAN tags, or raw IP;
// IPv4/IPv6 with extension headers; TCP/UDP/SCTP ports). Fragments and packets
// without ports hash on addresses and protocol; non-IP frames hash to 0.
#pragma once

#include <cstdint>
#include <cstring>

namespace stnn {

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

inline uint32_t Fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

inline uint32_t Fnv1a(uint32_t h, const uint8_t* p, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

// `raw_ip`: the frame starts with the IP header (no link layer), else Ethernet.
inline uint32_t SymmetricFlowHash(const uint8_t* p, uint32_t len, bool raw_ip) {
  uint32_t off = 0;
  uint16_t type;
  if (raw_ip) {
    if (len < 1) return 0;
    const uint8_t v = p[0] >> 4;
    type = v == 4 ? 0x0800 : v == 6 ? 0x86dd : 0;
  } else {
    if (len < 14) return 0;
    off = 12;
    type = Be16(p + off);
    for (int depth = 0; depth < 2 && (type == 0x8100 || type == 0x88a8 || type == 0x9100); depth++) {
      if (off + 6 > len) return 0;
      off += 4;
      type = Be16(p + off);
    }
    off += 2;
  }
  const uint8_t* src;
  const uint8_t* dst;
  uint32_t alen;
  uint8_t proto;
  uint32_t l4;
  bool ports_ok = true;
  if (type == 0x0800) {
    if (off + 20 > len || (p[off] >> 4) != 4) return 0;
    const uint32_t ihl = (p[off] & 0x0fu) * 4;
    if (ihl < 20) return 0;
    proto = p[off + 9];
    src = p + off + 12;
    dst = p + off + 16;
    alen = 4;
    l4 = off + ihl;
    if ((Be16(p + off + 6) & 0x3fff) != 0) ports_ok = false;  // a fragment
  } else if (type == 0x86dd) {
    if (off + 40 > len || (p[off] >> 4) != 6) return 0;
    proto = p[off + 6];
    src = p + off + 8;
    dst = p + off + 24;
    alen = 16;
    l4 = off + 40;
    for (int i = 0; i < 8; i++) {
      if (proto == 0 || proto == 43 || proto == 60) {  // hop-by-hop, routing, destination options
        if (l4 + 2 > len) { ports_ok = false; break; }
        proto = p[l4];
        l4 += (static_cast<uint32_t>(p[l4 + 1]) + 1) * 8;
      } else if (proto == 51) {  // authentication header
        if (l4 + 2 > len) { ports_ok = false; break; }
        proto = p[l4];
        l4 += (static_cast<uint32_t>(p[l4 + 1]) + 2) * 4;
      } else if (proto == 44) {  // fragment header
        if (l4 + 8 > len) { ports_ok = false; break; }
        proto = p[l4];
        ports_ok = false;
        break;
      } else {
        break;
      }
    }
  } else {
    return 0;
  }
  uint16_t sport = 0, dport = 0;
  if (ports_ok && (proto == 6 || proto == 17 || proto == 132) && l4 + 4 <= len) {
    sport = Be16(p + l4);
    dport = Be16(p + l4 + 2);
  }
  // order the two endpoints so that both directions hash the same bytes
  int c = std::memcmp(src, dst, alen);
  if (c > 0 || (c == 0 && sport > dport)) {
    const uint8_t* t = src;
    src = dst;
    dst = t;
    const uint16_t tp = sport;
    sport = dport;
    dport = tp;
  }
  uint8_t tail[5] = {static_cast<uint8_t>(sport >> 8), static_cast<uint8_t>(sport), static_cast<uint8_t>(dport >> 8),
                     static_cast<uint8_t>(dport), proto};
  uint32_t h = 2166136261u;
  h = Fnv1a(h, src, alen);
  h = Fnv1a(h, dst, alen);
  h = Fnv1a(h, tail, 5);
  return Fmix32(h);
}

}  // namespace stnn
