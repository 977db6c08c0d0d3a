// Launch helpers shared by the CUDA kernel files: grid sizing from the current device.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace fusedact::cuda {

// How many threads the current device runs at once (SMs x threads per SM), read once per
// device.
inline int64_t resident_threads() {
  static std::array<std::atomic<int64_t>, 64> cache{};
  const int device = c10::cuda::current_device();
  auto& slot = cache.at(device);
  int64_t threads = slot.load(std::memory_order_relaxed);
  if (threads == 0) {
    int sms = 0, per_sm = 0;
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxThreadsPerMultiProcessor, device));
    threads = int64_t{sms} * per_sm;
    slot.store(threads, std::memory_order_relaxed);
  }
  return threads;
}

// Blocks for `work` thread-sized items: enough to cover them, at most as many as the device
// holds at once (kernels stride over the rest). Computed in 64 bits, clamped to int.
inline int grid_size(int64_t work, int threads_per_block) {
  const int64_t needed = (work + threads_per_block - 1) / threads_per_block;
  const int64_t resident = std::max<int64_t>(resident_threads() / threads_per_block, 1);
  return static_cast<int>(std::clamp<int64_t>(needed, 1, resident));
}

}  // namespace fusedact::cuda
