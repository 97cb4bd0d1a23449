// This machine's roofline for the benchmarks: peak FMA throughput per ISA (independent FMA
// chains, one thread) and copy bandwidth at working sets that fit each cache level.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace dsconv_bench {

struct BandwidthLevel {
  std::string name;         // "L1", "L2", "L3", "DRAM"
  std::size_t capacity;     // bytes; 0 = unbounded (DRAM)
  std::size_t working_set;  // bytes streamed by the probe (source + destination)
  double bytes_per_s;
};

// Peak FLOP/s (2 per FMA lane) of one core running `isa` ("scalar", "avx2", "avx512", "neon").
// "scalar" is baseline code: multiply-add chains compiled without ISA flags.
double peak_flops(const std::string& isa, double seconds);

// STREAM-style copy (8 bytes per float: read + write) at half of each cache level and at a
// buffer larger than the last level; best sample of `seconds` per level.
std::vector<BandwidthLevel> measure_bandwidth(double seconds);

// The level an op with `bytes` of compulsory traffic streams from: the first that holds it.
const BandwidthLevel& level_for(const std::vector<BandwidthLevel>& levels, double bytes);

}  // namespace dsconv_bench
