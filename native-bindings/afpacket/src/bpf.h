// tcpdump-style filter expressions compiled to classic BPF by libpcap, loaded at run
// time with dlopen() so that building the addon needs no libpcap headers.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

namespace stnn {

// DLT values of the pcap API (not the LINKTYPE_ numbers of capture files).
constexpr int kDltEn10Mb = 1;
constexpr int kDltRaw = 12;

// Compiles `expr` for `dlt` with `snaplen`. On failure returns false with a one-line
// reason in *error (libpcap missing, or libpcap's own message for a bad expression).
bool CompileBpf(const std::string& expr, int dlt, int snaplen, std::vector<sock_filter>* out, std::string* error);

}  // namespace stnn
