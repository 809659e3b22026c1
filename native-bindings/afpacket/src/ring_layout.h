// Layout of the SPSC ring shared with JavaScript. The source of truth is
// src/capture/ring.ts; every constant here mirrors one there, and the addon exports
// them (addon.layout) so test/capture/afpacket.test.ts can compare both sides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace stnn {
namespace ring {

// Int32 slot indices in the header.
constexpr int kHeadField = 0;
constexpr int kTailField = 16;
constexpr int kDropsLoField = 32;
constexpr int kDropsHiField = 33;
constexpr int kFlagsField = 48;
constexpr int kSleepField = 49;
constexpr int kProducerSleepField = 50;
constexpr int kMagicField = 56;
constexpr int kVersionField = 57;
constexpr int kCapacityField = 58;

constexpr uint32_t kHeaderBytes = 256;
constexpr uint32_t kMagic = 0x53524e47;  // 'SRNG'
constexpr uint32_t kVersion = 1;
constexpr uint32_t kFlagClosed = 1;
constexpr uint32_t kRecordHeaderBytes = 8;
constexpr uint32_t kRecordAlign = 8;
constexpr uint32_t kSkipMarker = 0xffffffffu;
constexpr uint32_t kTagPacket = 1;
constexpr uint32_t kPacketHeaderBytes = 16;
constexpr uint32_t kMinCapacity = 1024;
constexpr uint32_t kMaxCapacity = 1u << 30;

constexpr int kCacheLine = 64;
static_assert(kHeaderBytes % kCacheLine == 0, "header is whole cache lines");
static_assert(kCapacityField * 4 < static_cast<int>(kHeaderBytes), "every slot lies in the header");
static_assert(kHeadField * 4 / kCacheLine != kTailField * 4 / kCacheLine, "head and tail on separate lines");
static_assert(kTailField * 4 / kCacheLine != kDropsLoField * 4 / kCacheLine, "tail apart from producer counters");
static_assert(kDropsHiField == kDropsLoField + 1, "drops is a lo/hi pair");
static_assert(kRecordHeaderBytes % kRecordAlign == 0, "payload starts aligned");
static_assert((kRecordAlign & (kRecordAlign - 1)) == 0, "alignment is a power of two");
static_assert(kPacketHeaderBytes % 4 == 0, "packet header is u32 words");
static_assert(kHeaderBytes % kRecordAlign == 0, "data area starts aligned");

constexpr uint32_t RecordSpace(uint32_t payload) {
  return (kRecordHeaderBytes + payload + kRecordAlign - 1) & ~(kRecordAlign - 1);
}
static_assert(RecordSpace(0) == 8 && RecordSpace(3) == 16 && RecordSpace(61) == 72, "record space");

// Producer side, used by the capture thread only. Records are published in batches:
// Publish() makes everything reserved so far visible with one store.
class Producer {
 public:
  // Checks the header written by createRingBuffer(); returns an empty string when valid.
  std::string Attach(uint8_t* base, size_t len) {
    if (len < kHeaderBytes + kMinCapacity) return "ring buffer too small";
    hdr_ = reinterpret_cast<int32_t*>(base);
    if (static_cast<uint32_t>(hdr_[kMagicField]) != kMagic || static_cast<uint32_t>(hdr_[kVersionField]) != kVersion)
      return "ring buffer has a bad magic or version";
    cap_ = static_cast<uint32_t>(hdr_[kCapacityField]);
    if ((cap_ & (cap_ - 1)) != 0 || cap_ < kMinCapacity || kHeaderBytes + static_cast<size_t>(cap_) != len)
      return "ring capacity does not match the buffer size";
    data_ = base + kHeaderBytes;
    mask_ = cap_ - 1;
    head_ = published_ = static_cast<uint32_t>(__atomic_load_n(&hdr_[kHeadField], __ATOMIC_ACQUIRE));
    cached_tail_ = static_cast<uint32_t>(__atomic_load_n(&hdr_[kTailField], __ATOMIC_ACQUIRE));
    drops_ = (static_cast<uint64_t>(static_cast<uint32_t>(hdr_[kDropsHiField])) << 32) |
             static_cast<uint32_t>(hdr_[kDropsLoField]);
    return std::string();
  }

  // Room for a record; returns its payload or nullptr when full (the drop is counted).
  uint8_t* Reserve(uint32_t payload_len, uint32_t tag) {
    const uint32_t need = RecordSpace(payload_len);
    uint32_t off = head_ & mask_;
    const uint32_t contiguous = cap_ - off;
    const uint64_t total = need <= contiguous ? need : static_cast<uint64_t>(contiguous) + need;
    if (need > cap_ || (head_ - cached_tail_) + total > cap_) {
      cached_tail_ = static_cast<uint32_t>(__atomic_load_n(&hdr_[kTailField], __ATOMIC_ACQUIRE));
      if (need > cap_ || (head_ - cached_tail_) + total > cap_) {
        CountDrop();
        return nullptr;
      }
    }
    if (need > contiguous) {
      Word(off) = kSkipMarker;
      head_ += contiguous;
      off = 0;
    }
    Word(off) = payload_len;
    Word(off + 4) = tag;
    const uint32_t end = off + need;
    const uint32_t payload_end = off + kRecordHeaderBytes + payload_len;
    if (payload_end < end) std::memset(data_ + payload_end, 0, end - payload_end);
    head_ += need;
    return data_ + off + kRecordHeaderBytes;
  }

  // Makes every reserved record visible. Returns true when the consumer sleeps and
  // must be notified (JavaScript's Atomics.notify on kHeadField).
  bool Publish() {
    if (head_ == published_) return false;
    published_ = head_;
    __atomic_store_n(&hdr_[kHeadField], static_cast<int32_t>(head_), __ATOMIC_SEQ_CST);
    return __atomic_load_n(&hdr_[kSleepField], __ATOMIC_SEQ_CST) != 0;
  }

  void Close() { __atomic_fetch_or(&hdr_[kFlagsField], static_cast<int32_t>(kFlagClosed), __ATOMIC_SEQ_CST); }

  uint64_t drops() const { return drops_; }

 private:
  uint32_t& Word(uint32_t off) { return *reinterpret_cast<uint32_t*>(data_ + off); }
  void CountDrop() {
    drops_++;
    __atomic_store_n(&hdr_[kDropsHiField], static_cast<int32_t>(drops_ >> 32), __ATOMIC_RELAXED);
    __atomic_store_n(&hdr_[kDropsLoField], static_cast<int32_t>(drops_ & 0xffffffffu), __ATOMIC_RELEASE);
  }

  int32_t* hdr_ = nullptr;
  uint8_t* data_ = nullptr;
  uint32_t cap_ = 0, mask_ = 0;
  uint32_t head_ = 0, published_ = 0, cached_tail_ = 0;
  uint64_t drops_ = 0;
};

}  // namespace ring
}  // namespace stnn
