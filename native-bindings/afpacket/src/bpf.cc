#include "bpf.h"

#include <dlfcn.h>

#include <cstdint>
#include <mutex>

namespace stnn {
namespace {

// The few libpcap declarations we use (pcap/pcap.h, pcap/bpf.h); their ABI has been
// stable since libpcap 0.8.
struct PcapInsn {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
};
struct PcapProgram {
  unsigned int bf_len;
  PcapInsn* bf_insns;
};
using pcap_t = struct pcap;
using OpenDeadFn = pcap_t* (*)(int, int);
using CompileFn = int (*)(pcap_t*, PcapProgram*, const char*, int, uint32_t);
using FreecodeFn = void (*)(PcapProgram*);
using GeterrFn = char* (*)(pcap_t*);
using CloseFn = void (*)(pcap_t*);
constexpr uint32_t kNetmaskUnknown = 0xffffffffu;

struct Libpcap {
  void* handle = nullptr;
  OpenDeadFn open_dead = nullptr;
  CompileFn compile = nullptr;
  FreecodeFn freecode = nullptr;
  GeterrFn geterr = nullptr;
  CloseFn close = nullptr;
  std::string error;
};

std::mutex g_mutex;  // older libpcap compilers are not reentrant

// Loads libpcap once; on failure lib.handle stays null and lib.error says why.
Libpcap& Load() {
  static Libpcap lib;
  static bool tried = false;
  if (tried) return lib;
  tried = true;
  const char* names[] = {"libpcap.so.1", "libpcap.so.0.8", "libpcap.so"};
  for (const char* name : names) {
    lib.handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib.handle) break;
  }
  if (!lib.handle) {
    lib.error = "libpcap is not installed (tried libpcap.so.1, libpcap.so.0.8, libpcap.so; Debian: libpcap0.8)";
    return lib;
  }
  lib.open_dead = reinterpret_cast<OpenDeadFn>(dlsym(lib.handle, "pcap_open_dead"));
  lib.compile = reinterpret_cast<CompileFn>(dlsym(lib.handle, "pcap_compile"));
  lib.freecode = reinterpret_cast<FreecodeFn>(dlsym(lib.handle, "pcap_freecode"));
  lib.geterr = reinterpret_cast<GeterrFn>(dlsym(lib.handle, "pcap_geterr"));
  lib.close = reinterpret_cast<CloseFn>(dlsym(lib.handle, "pcap_close"));
  if (!lib.open_dead || !lib.compile || !lib.freecode || !lib.geterr || !lib.close) {
    lib.error = "libpcap lacks pcap_open_dead/pcap_compile";
    dlclose(lib.handle);
    lib.handle = nullptr;
  }
  return lib;
}

}  // namespace

bool CompileBpf(const std::string& expr, int dlt, int snaplen, std::vector<sock_filter>* out, std::string* error) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Libpcap* lib = &Load();
  if (!lib->handle) {
    *error = lib->error;
    return false;
  }
  pcap_t* p = lib->open_dead(dlt, snaplen);
  if (!p) {
    *error = "pcap_open_dead failed";
    return false;
  }
  PcapProgram prog{0, nullptr};
  if (lib->compile(p, &prog, expr.c_str(), 1, kNetmaskUnknown) != 0) {
    *error = lib->geterr(p);
    lib->close(p);
    return false;
  }
  out->resize(prog.bf_len);
  for (unsigned int i = 0; i < prog.bf_len; i++) {
    (*out)[i].code = prog.bf_insns[i].code;
    (*out)[i].jt = prog.bf_insns[i].jt;
    (*out)[i].jf = prog.bf_insns[i].jf;
    (*out)[i].k = prog.bf_insns[i].k;
  }
  lib->freecode(&prog);
  lib->close(p);
  return true;
}

}  // namespace stnn
