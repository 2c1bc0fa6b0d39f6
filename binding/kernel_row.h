// One KernelTable row run by name, now, on a chosen table (scalar, AVX2 or the one in use), on
// arrays passed by name. It lets a test walk every row and compare the tables bit for bit
// (test/kernel-table.test.ts), and small conversions run on the JS thread (lib/methods/f32.ts).
// Each family's binding defines its rows' runners, parsing the arguments as its jobs do; a row
// without a runner does not link.
#pragma once
#include "cpu/runtime/kernels.h"
#include "named_args.h"

namespace tz {

// Runs the row over all of the arguments' elements; returns the decoders' DecodeFault mask (0 for
// encoders and conversions). Throws std::exception for what the kernel refuses.
#define TZ_DECLARE_ROW_RUNNER(row) unsigned RunRow_##row(NamedArgs& args, const KernelTable& k);
TZ_KERNEL_ROWS(TZ_DECLARE_ROW_RUNNER)
#undef TZ_DECLARE_ROW_RUNNER

// The rows' names, in member order (TZ_KERNEL_ROWS), for backendInfo().
Napi::Array KernelRowNames(Napi::Env env);

}  // namespace tz
