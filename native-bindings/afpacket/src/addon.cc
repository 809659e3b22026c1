// stnn-afpacket: AF_PACKET TPACKET_V3 receive ring → per-shard SPSC rings in
// SharedArrayBuffers. Receive only: the capture thread walks kernel blocks, copies
// compact packet records {ts, caplen, wirelen, bytes} into the shard chosen by a
// symmetric 5-tuple hash, and gives each block back right after its walk. A full shard
// ring drops and counts; the kernel ring is never held. JavaScript sees no per-packet
// callback: only, at most once per block, a request to wake a sleeping consumer.

#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bpf.h"
#include "ring_layout.h"
#include "shard_hash.h"

namespace stnn {
namespace {

// LINKTYPE_ values as in capture files, reported to JavaScript.
constexpr int kLinktypeEthernet = 1;
constexpr int kLinktypeRaw = 101;

// In a TPACKET_V3 frame the kernel writes a struct sockaddr_ll right after the header
// (net/packet/af_packet.c, tpacket_rcv: h.raw + TPACKET_ALIGN(sizeof(struct tpacket3_hdr))).
constexpr uint32_t kSllOffset = TPACKET_ALIGN(sizeof(tpacket3_hdr));

std::string ErrnoText(int err) {
  char buf[256];
  return std::string(strerror_r(err, buf, sizeof buf));
}

[[noreturn]] void ThrowCoded(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

uint32_t GetU32(Napi::Object o, const char* key, uint32_t dflt, uint32_t lo, uint32_t hi) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  if (!v.IsNumber()) ThrowCoded(o.Env(), "STNN_CONFIG", std::string("afpacket: option ") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<uint64_t>(d)))
    ThrowCoded(o.Env(), "STNN_CONFIG",
               std::string("afpacket: option ") + key + " must be an integer in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "], got " + v.ToString().Utf8Value());
  return static_cast<uint32_t>(d);
}

struct Shard {
  ring::Producer producer;
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> drops{0};
  bool dirty = false;  // capture thread only: records reserved since the last Publish()
};

// Wake requests in flight to the main thread, shared with the queued callbacks so that
// they stay valid whatever happens to the Capture object. Shards 0..31 have a bit each;
// higher shards share one flag (all sleeping consumers are woken).
struct WakeState {
  std::atomic<uint32_t> pending{0};
  std::atomic<bool> wide_pending{false};
};

class Capture : public Napi::ObjectWrap<Capture> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Capture",
                       {InstanceMethod("start", &Capture::Start), InstanceMethod("stop", &Capture::Stop),
                        InstanceMethod("stats", &Capture::Stats), InstanceAccessor("linkType", &Capture::LinkType, nullptr),
                        InstanceAccessor("ifindex", &Capture::IfIndex, nullptr)});
  }

  // new Capture({ interface, rings: Uint8Array[] (whole SharedArrayBuffers), wake(mask),
  //   blockSize, blockCount, frameSize, blockTimeoutMs, snapLen, promiscuous, filter,
  //   fanoutGroup, fanoutDefrag, pollTimeoutMs })
  explicit Capture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Capture>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) ThrowCoded(env, "STNN_CONFIG", "afpacket: options object expected");
    Napi::Object o = info[0].As<Napi::Object>();

    Napi::Value ifv = o.Get("interface");
    if (!ifv.IsString()) ThrowCoded(env, "STNN_CONFIG", "afpacket: option interface must be a string");
    ifname_ = ifv.As<Napi::String>().Utf8Value();
    block_size_ = GetU32(o, "blockSize", 1u << 20, 4096, 1u << 30);
    block_count_ = GetU32(o, "blockCount", 64, 1, 1u << 16);
    frame_size_ = GetU32(o, "frameSize", 2048, 64, 1u << 30);
    block_timeout_ms_ = GetU32(o, "blockTimeoutMs", 10, 1, 60000);
    snap_len_ = GetU32(o, "snapLen", 65535, 64, 262144);
    poll_timeout_ms_ = GetU32(o, "pollTimeoutMs", 100, 1, 10000);
    fanout_group_ = -1;
    Napi::Value fg = o.Get("fanoutGroup");
    if (!fg.IsUndefined() && !fg.IsNull()) fanout_group_ = static_cast<int>(GetU32(o, "fanoutGroup", 0, 0, 65535));
    fanout_defrag_ = o.Get("fanoutDefrag").ToBoolean().Value();
    Napi::Value pv = o.Get("promiscuous");
    promisc_ = pv.IsUndefined() ? true : pv.ToBoolean().Value();
    Napi::Value fv = o.Get("filter");
    if (!fv.IsUndefined() && !fv.IsNull()) {
      if (!fv.IsString()) ThrowCoded(env, "STNN_CONFIG", "afpacket: option filter must be a string");
      filter_ = fv.As<Napi::String>().Utf8Value();
    }

    Napi::Value rv = o.Get("rings");
    if (!rv.IsArray() || rv.As<Napi::Array>().Length() == 0 || rv.As<Napi::Array>().Length() > 1024)
      ThrowCoded(env, "STNN_CONFIG", "afpacket: option rings must be a non-empty array of ring buffers");
    Napi::Array rings = rv.As<Napi::Array>();
    nshards_ = rings.Length();
    shards_.reset(new Shard[nshards_]);
    for (uint32_t i = 0; i < nshards_; i++) {
      Napi::Value r = rings.Get(i);
      if (!r.IsTypedArray() || r.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
        ThrowCoded(env, "STNN_CONFIG", "afpacket: rings[" + std::to_string(i) + "] must be a Uint8Array over the ring's SharedArrayBuffer");
      Napi::Uint8Array u8 = r.As<Napi::Uint8Array>();
      std::string err = shards_[i].producer.Attach(u8.Data(), u8.ByteLength());
      if (!err.empty()) ThrowCoded(env, "STNN_CONFIG", "afpacket: rings[" + std::to_string(i) + "]: " + err);
      ring_refs_.push_back(Napi::Persistent(r.As<Napi::Object>()));
    }
    Napi::Value wv = o.Get("wake");
    if (!wv.IsFunction()) ThrowCoded(env, "STNN_CONFIG", "afpacket: option wake must be a function");
    wake_ = Napi::ThreadSafeFunction::New(env, wv.As<Napi::Function>(), "stnn-afpacket-wake", 0, 1);
    wake_.Unref(env);

    try {
      Open(env);
    } catch (...) {
      CloseSocket();
      wake_.Release();
      wake_released_ = true;
      throw;
    }
  }

  ~Capture() override {
    StopThread();
    CloseSocket();
    if (!wake_released_) wake_.Release();
  }

 private:
  void Open(Napi::Env env) {
    if (ifname_.empty() || ifname_.size() >= IFNAMSIZ)
      ThrowCoded(env, "STNN_CONFIG", "afpacket: bad interface name '" + ifname_ + "'");
    ifindex_ = if_nametoindex(ifname_.c_str());
    if (ifindex_ == 0) ThrowCoded(env, "STNN_CONFIG", "afpacket: no such network interface: " + ifname_);

    // protocol 0: nothing is queued until bind(), so no packet slips past the filter
    fd_ = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd_ < 0) {
      int err = errno;
      if (err == EPERM || err == EACCES)
        ThrowCoded(env, "STNN_CAPABILITY",
                   "afpacket: capturing on " + ifname_ + " needs the CAP_NET_RAW capability (socket(AF_PACKET): " +
                       ErrnoText(err) + ")");
      ThrowCoded(env, "STNN_RUNTIME", "afpacket: socket(AF_PACKET): " + ErrnoText(err));
    }

    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::memcpy(ifr.ifr_name, ifname_.data(), ifname_.size());
    if (ioctl(fd_, SIOCGIFHWADDR, &ifr) < 0) Fail(env, "STNN_RUNTIME", "ioctl(SIOCGIFHWADDR)");
    switch (ifr.ifr_hwaddr.sa_family) {
      case ARPHRD_ETHER:
        link_type_ = kLinktypeEthernet;
        break;
      case ARPHRD_LOOPBACK:
        link_type_ = kLinktypeEthernet;
        loopback_ = true;
        break;
      case ARPHRD_NONE:
        link_type_ = kLinktypeRaw;
        break;
      default:
        ThrowCoded(env, "STNN_CONFIG",
                   "afpacket: interface " + ifname_ + " has hardware type " + std::to_string(ifr.ifr_hwaddr.sa_family) +
                       "; only Ethernet, loopback and raw IP interfaces are supported");
    }

    int version = TPACKET_V3;
    if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0)
      Fail(env, "STNN_RUNTIME", "setsockopt(PACKET_VERSION, TPACKET_V3)");

    if (!filter_.empty()) {
      std::vector<sock_filter> insns;
      std::string err;
      if (!CompileBpf(filter_, link_type_ == kLinktypeRaw ? kDltRaw : kDltEn10Mb, static_cast<int>(snap_len_), &insns, &err))
        ThrowCoded(env, "STNN_CONFIG", "afpacket: filter '" + filter_ + "': " + err);
      sock_fprog prog;
      prog.len = static_cast<unsigned short>(insns.size());
      prog.filter = insns.data();
      if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) Fail(env, "STNN_CONFIG", "setsockopt(SO_ATTACH_FILTER)");
    }

    tpacket_req3 req;
    std::memset(&req, 0, sizeof req);
    req.tp_block_size = block_size_;
    req.tp_block_nr = block_count_;
    req.tp_frame_size = frame_size_;
    req.tp_frame_nr = static_cast<unsigned int>((static_cast<uint64_t>(block_size_) * block_count_) / frame_size_);
    req.tp_retire_blk_tov = block_timeout_ms_;
    req.tp_sizeof_priv = 0;
    req.tp_feature_req_word = 0;
    if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) {
      int err = errno;
      if (err == EINVAL)
        ThrowCoded(env, "STNN_CONFIG",
                   "afpacket: the kernel refused the ring (blockSize " + std::to_string(block_size_) +
                       " must be a page-size multiple and a power-of-two number of pages, frameSize " +
                       std::to_string(frame_size_) + " a multiple of 16 dividing it): " + ErrnoText(err));
      errno = err;
      Fail(env, "STNN_RUNTIME", "setsockopt(PACKET_RX_RING)");
    }
    map_len_ = static_cast<size_t>(block_size_) * block_count_;
    void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
    if (m == MAP_FAILED) {
      map_len_ = 0;
      Fail(env, "STNN_RUNTIME", "mmap of the receive ring");
    }
    map_ = static_cast<uint8_t*>(m);

    sockaddr_ll sll;
    std::memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(ifindex_);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) Fail(env, "STNN_RUNTIME", "bind to " + ifname_);

    if (promisc_) {
      packet_mreq mr;
      std::memset(&mr, 0, sizeof mr);
      mr.mr_ifindex = static_cast<int>(ifindex_);
      mr.mr_type = PACKET_MR_PROMISC;
      if (setsockopt(fd_, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
        Fail(env, "STNN_RUNTIME", "setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC)");
    }
    if (fanout_group_ >= 0) {
      // DEFRAG (opt-in) reassembles IP fragments before hashing, so the members see
      // reassembled datagrams instead of the fragments on the wire
      int mode = PACKET_FANOUT_HASH | (fanout_defrag_ ? PACKET_FANOUT_FLAG_DEFRAG : 0);
      int arg = (fanout_group_ & 0xffff) | (mode << 16);
      if (setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0)
        Fail(env, "STNN_CONFIG", "setsockopt(PACKET_FANOUT, hash, group " + std::to_string(fanout_group_) + ")");
    }
  }

  [[noreturn]] void Fail(Napi::Env env, const char* code, const std::string& what) {
    int err = errno;
    ThrowCoded(env, code, "afpacket: " + what + " on " + ifname_ + ": " + ErrnoText(err));
  }

  void CloseSocket() {
    if (map_) {
      munmap(map_, map_len_);
      map_ = nullptr;
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (fd_ < 0 || stopped_) ThrowCoded(info.Env(), "STNN_RUNTIME", "afpacket: capture already stopped");
    if (thread_.joinable()) return info.Env().Undefined();
    stop_.store(false);
    wake_.Ref(info.Env());
    thread_ = std::thread([this] { Run(); });
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (stopped_) return info.Env().Undefined();
    stopped_ = true;
    StopThread();
    if (fd_ >= 0) ReadKernelStats();
    for (uint32_t i = 0; i < nshards_; i++) shards_[i].producer.Close();
    CloseSocket();
    if (!wake_released_) {
      wake_.Release();
      wake_released_ = true;
    }
    ring_refs_.clear();
    return info.Env().Undefined();
  }

  void StopThread() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  void ReadKernelStats() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    tpacket_stats_v3 st;
    socklen_t len = sizeof st;
    std::memset(&st, 0, sizeof st);
    // the kernel zeroes its counters on every read: accumulate the deltas
    if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      kernel_packets_ += st.tp_packets;
      kernel_drops_ += st.tp_drops;
      kernel_freezes_ += st.tp_freeze_q_cnt;
    }
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ >= 0) ReadKernelStats();
    Napi::Object s = Napi::Object::New(env);
    s.Set("packets", Napi::Number::New(env, static_cast<double>(packets_.load(std::memory_order_relaxed))));
    s.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes_.load(std::memory_order_relaxed))));
    s.Set("truncated", Napi::Number::New(env, static_cast<double>(truncated_.load(std::memory_order_relaxed))));
    s.Set("loopbackDuplicates", Napi::Number::New(env, static_cast<double>(loopback_dups_.load(std::memory_order_relaxed))));
    s.Set("blocks", Napi::Number::New(env, static_cast<double>(blocks_.load(std::memory_order_relaxed))));
    s.Set("wakeups", Napi::Number::New(env, static_cast<double>(wakeups_.load(std::memory_order_relaxed))));
    {
      std::lock_guard<std::mutex> lock(stats_mutex_);
      s.Set("kernelPackets", Napi::Number::New(env, static_cast<double>(kernel_packets_)));
      s.Set("kernelDrops", Napi::Number::New(env, static_cast<double>(kernel_drops_)));
      s.Set("kernelFreezes", Napi::Number::New(env, static_cast<double>(kernel_freezes_)));
    }
    Napi::Array drops = Napi::Array::New(env, nshards_);
    for (uint32_t i = 0; i < nshards_; i++)
      drops.Set(i, Napi::Number::New(env, static_cast<double>(shards_[i].drops.load(std::memory_order_relaxed))));
    s.Set("ringDrops", drops);
    Napi::Array per = Napi::Array::New(env, nshards_);
    for (uint32_t i = 0; i < nshards_; i++)
      per.Set(i, Napi::Number::New(env, static_cast<double>(shards_[i].packets.load(std::memory_order_relaxed))));
    s.Set("shardPackets", per);
    s.Set("running", Napi::Boolean::New(env, thread_.joinable() && !stop_.load()));
    s.Set("lastError", Napi::String::New(env, LastError()));
    return s;
  }

  std::string LastError() {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    return last_error_;
  }

  Napi::Value LinkType(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), link_type_); }
  Napi::Value IfIndex(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ifindex_); }

  // ------------------------------------------------------------ capture thread

  void Run() {
    uint32_t block = 0;
    auto last_stats = std::chrono::steady_clock::now();
    while (!stop_.load(std::memory_order_relaxed)) {
      auto* bd = reinterpret_cast<tpacket_block_desc*>(map_ + static_cast<size_t>(block) * block_size_);
      if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) {
        PublishAll();
        pollfd pfd{fd_, POLLIN | POLLERR, 0};
        int rc = poll(&pfd, 1, static_cast<int>(poll_timeout_ms_));
        if (rc < 0 && errno != EINTR) {
          SetError("poll: " + ErrnoText(errno));
          std::this_thread::sleep_for(std::chrono::milliseconds(poll_timeout_ms_));
        } else if (rc > 0 && (pfd.revents & (POLLERR | POLLNVAL))) {
          int soerr = 0;
          socklen_t sl = sizeof soerr;
          getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &sl);  // reading clears it
          SetError(soerr ? ErrnoText(soerr) : std::string("poll error"));
          if (pfd.revents & POLLNVAL) break;
          if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
            std::this_thread::sleep_for(std::chrono::milliseconds(poll_timeout_ms_));
        }
      } else {
        WalkBlock(bd);
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        blocks_.fetch_add(1, std::memory_order_relaxed);
        block = (block + 1) % block_count_;
        PublishAll();
      }
      auto now = std::chrono::steady_clock::now();
      if (now - last_stats > std::chrono::seconds(1)) {
        last_stats = now;
        ReadKernelStats();  // keeps the kernel's 32-bit counters far from wrapping
      }
    }
    PublishAll();
  }

  void SetError(const std::string& e) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    last_error_ = e;
  }

  void WalkBlock(tpacket_block_desc* bd) {
    const uint32_t n = bd->hdr.bh1.num_pkts;
    uint8_t* base = reinterpret_cast<uint8_t*>(bd);
    uint32_t off = bd->hdr.bh1.offset_to_first_pkt;
    uint64_t bytes = 0;
    uint64_t taken = 0, dups = 0;
    const bool raw = link_type_ == kLinktypeRaw;
    for (uint32_t i = 0; i < n; i++) {
      if (off + sizeof(tpacket3_hdr) > block_size_) break;  // defensive: never walk off the block
      auto* h = reinterpret_cast<tpacket3_hdr*>(base + off);
      const uint32_t next = h->tp_next_offset;
      // On a loopback device the kernel hands every packet to packet sockets twice: as
      // PACKET_OUTGOING when it is sent and again as incoming when it is received. Keep the
      // incoming copy only, as libpcap does (linux_check_direction: outgoing on the loopback
      // ifindex is rejected). Elsewhere (veth, SPAN) outgoing packets are the host's own
      // traffic and are kept.
      if (loopback_ && off + kSllOffset + sizeof(sockaddr_ll) <= block_size_) {
        const auto* sll = reinterpret_cast<const sockaddr_ll*>(base + off + kSllOffset);
        if (sll->sll_pkttype == PACKET_OUTGOING) {
          dups++;
          if (next == 0) break;
          off += next;
          continue;
        }
      }
      taken++;
      const uint8_t* frame = base + off + h->tp_mac;
      uint32_t snap = h->tp_snaplen;
      uint32_t wire = h->tp_len;
      if (off + h->tp_mac + static_cast<uint64_t>(snap) > block_size_) snap = 0;
      // the kernel strips VLAN tags into the header; put them back as libpcap does
      const bool vlan = !raw && (h->tp_status & TP_STATUS_VLAN_VALID) && snap >= 12;
      uint16_t tpid = ETH_P_8021Q;
      if (vlan && (h->tp_status & TP_STATUS_VLAN_TPID_VALID) && h->hv1.tp_vlan_tpid) tpid = h->hv1.tp_vlan_tpid;
      const uint32_t full = snap + (vlan ? 4 : 0);
      if (vlan) wire += 4;
      const uint32_t cap = full < snap_len_ ? full : snap_len_;
      if (cap < wire) truncated_.fetch_add(1, std::memory_order_relaxed);
      bytes += wire;
      const uint32_t hash = vlan ? SymmetricFlowHash(frame, snap, false) : SymmetricFlowHash(frame, snap, raw);
      const uint32_t si = hash % nshards_;
      Shard& sh = shards_[si];
      sh.packets.fetch_add(1, std::memory_order_relaxed);
      uint8_t* rec = sh.producer.Reserve(ring::kPacketHeaderBytes + cap, ring::kTagPacket);
      if (rec == nullptr) {
        sh.drops.fetch_add(1, std::memory_order_relaxed);
      } else {
        uint32_t words[4] = {h->tp_sec, h->tp_nsec, cap, wire};
        std::memcpy(rec, words, sizeof words);
        uint8_t* dst = rec + ring::kPacketHeaderBytes;
        if (vlan) {
          const uint32_t first = cap < 12 ? cap : 12;
          std::memcpy(dst, frame, first);
          uint8_t tag[4] = {static_cast<uint8_t>(tpid >> 8), static_cast<uint8_t>(tpid),
                            static_cast<uint8_t>(h->hv1.tp_vlan_tci >> 8), static_cast<uint8_t>(h->hv1.tp_vlan_tci)};
          if (cap > 12) std::memcpy(dst + 12, tag, cap - 12 < 4 ? cap - 12 : 4);
          if (cap > 16) std::memcpy(dst + 16, frame + 12, cap - 16);
        } else {
          std::memcpy(dst, frame, cap);
        }
        sh.dirty = true;
      }
      if (next == 0) break;
      off += next;
    }
    packets_.fetch_add(taken, std::memory_order_relaxed);
    bytes_.fetch_add(bytes, std::memory_order_relaxed);
    if (dups) loopback_dups_.fetch_add(dups, std::memory_order_relaxed);
  }

  // Publishes each shard's new records; asks the main thread to wake sleeping consumers.
  void PublishAll() {
    uint32_t mask = 0;
    bool wide = false;
    for (uint32_t i = 0; i < nshards_; i++) {
      Shard& sh = shards_[i];
      if (!sh.dirty) continue;
      sh.dirty = false;
      if (!sh.producer.Publish()) continue;  // consumer awake: nothing to do
      if (i < 32) {
        const uint32_t bit = 1u << i;
        if ((wake_state_->pending.fetch_or(bit) & bit) == 0) mask |= bit;
      } else if (!wake_state_->wide_pending.exchange(true)) {
        wide = true;
      }
    }
    if (mask == 0 && !wide) return;
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    std::shared_ptr<WakeState> state = wake_state_;
    wake_.NonBlockingCall([state, mask, wide](Napi::Env env, Napi::Function fn) {
      // cleared before notifying, so that a publish after this point asks again
      state->pending.fetch_and(~mask);
      if (wide) state->wide_pending.store(false);
      if (static_cast<napi_env>(env) == nullptr || fn.IsEmpty()) return;  // environment shutting down
      fn.Call({Napi::Number::New(env, mask), Napi::Boolean::New(env, wide)});
    });
  }

  std::string ifname_;
  std::string filter_;
  uint32_t block_size_ = 0, block_count_ = 0, frame_size_ = 0, block_timeout_ms_ = 0, snap_len_ = 0, poll_timeout_ms_ = 0;
  int fanout_group_ = -1;
  bool fanout_defrag_ = false;
  bool promisc_ = true;
  unsigned int ifindex_ = 0;
  int link_type_ = kLinktypeEthernet;
  bool loopback_ = false;  // ARPHRD_LOOPBACK: skip the PACKET_OUTGOING copy of each packet
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  size_t map_len_ = 0;

  uint32_t nshards_ = 0;
  std::unique_ptr<Shard[]> shards_;
  std::vector<Napi::ObjectReference> ring_refs_;
  Napi::ThreadSafeFunction wake_;
  bool wake_released_ = false;
  bool stopped_ = false;
  std::shared_ptr<WakeState> wake_state_ = std::make_shared<WakeState>();

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> packets_{0}, bytes_{0}, truncated_{0}, blocks_{0}, wakeups_{0}, loopback_dups_{0};
  std::mutex stats_mutex_;
  uint64_t kernel_packets_ = 0, kernel_drops_ = 0, kernel_freezes_ = 0;
  std::string last_error_;
};

// compileFilter(expr, snapLen = 65535, linkType = 1) → [[code, jt, jf, k], ...]
Napi::Value CompileFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) ThrowCoded(env, "STNN_CONFIG", "compileFilter: expression string expected");
  const std::string expr = info[0].As<Napi::String>().Utf8Value();
  int snap = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 65535;
  int lt = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : kLinktypeEthernet;
  std::vector<sock_filter> insns;
  std::string err;
  if (!CompileBpf(expr, lt == kLinktypeRaw ? kDltRaw : kDltEn10Mb, snap, &insns, &err))
    ThrowCoded(env, "STNN_CONFIG", "filter '" + expr + "': " + err);
  Napi::Array out = Napi::Array::New(env, insns.size());
  for (size_t i = 0; i < insns.size(); i++) {
    Napi::Array ins = Napi::Array::New(env, 4);
    ins.Set(0u, Napi::Number::New(env, insns[i].code));
    ins.Set(1u, Napi::Number::New(env, insns[i].jt));
    ins.Set(2u, Napi::Number::New(env, insns[i].jf));
    ins.Set(3u, Napi::Number::New(env, insns[i].k));
    out.Set(static_cast<uint32_t>(i), ins);
  }
  return out;
}

// shardOf(frame: Uint8Array, shards, linkType = 1) → the shard the capture thread picks
Napi::Value ShardOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber())
    ThrowCoded(env, "STNN_USAGE", "shardOf(frame: Uint8Array, shards: number, linkType?: number)");
  Napi::Uint8Array f = info[0].As<Napi::Uint8Array>();
  uint32_t n = info[1].As<Napi::Number>().Uint32Value();
  bool raw = info.Length() > 2 && info[2].IsNumber() && info[2].As<Napi::Number>().Int32Value() == kLinktypeRaw;
  if (n == 0) n = 1;
  uint32_t h = SymmetricFlowHash(f.Data(), static_cast<uint32_t>(f.ByteLength()), raw);
  Napi::Object r = Napi::Object::New(env);
  r.Set("hash", Napi::Number::New(env, h));
  r.Set("shard", Napi::Number::New(env, h % n));
  return r;
}

Napi::Object Layout(Napi::Env env) {
  Napi::Object l = Napi::Object::New(env);
  auto set = [&](const char* k, double v) { l.Set(k, Napi::Number::New(env, v)); };
  set("kHeadField", ring::kHeadField);
  set("kTailField", ring::kTailField);
  set("kDropsLoField", ring::kDropsLoField);
  set("kDropsHiField", ring::kDropsHiField);
  set("kFlagsField", ring::kFlagsField);
  set("kSleepField", ring::kSleepField);
  set("kProducerSleepField", ring::kProducerSleepField);
  set("kMagicField", ring::kMagicField);
  set("kVersionField", ring::kVersionField);
  set("kCapacityField", ring::kCapacityField);
  set("RING_HEADER_BYTES", ring::kHeaderBytes);
  set("RING_MAGIC", ring::kMagic);
  set("RING_VERSION", ring::kVersion);
  set("FLAG_CLOSED", ring::kFlagClosed);
  set("RECORD_HEADER_BYTES", ring::kRecordHeaderBytes);
  set("RECORD_ALIGN", ring::kRecordAlign);
  set("SKIP_MARKER", ring::kSkipMarker);
  set("TAG_PACKET", ring::kTagPacket);
  set("PACKET_HEADER_BYTES", ring::kPacketHeaderBytes);
  set("MIN_CAPACITY", ring::kMinCapacity);
  set("MAX_CAPACITY", ring::kMaxCapacity);
  return l;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Capture", Capture::Init(env));
  exports.Set("compileFilter", Napi::Function::New(env, CompileFilter, "compileFilter"));
  exports.Set("shardOf", Napi::Function::New(env, ShardOf, "shardOf"));
  exports.Set("layout", Layout(env));
  return exports;
}

}  // namespace
}  // namespace stnn

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return stnn::Init(env, exports); }

NODE_API_MODULE(stnn_afpacket, InitAddon)
