/* dsconv: depthwise-separable convolution kernels for CPUs — the plain C API.
 *
 * A thin layer over the C++ API (dsconv.hpp, cost.hpp) for C programs and other languages'
 * FFI. No exception crosses it: every function that can fail returns a dsconv_status, and
 * dsconv_last_error() gives that failure's message.
 *
 * Tensors are float32 and contiguous. Activations are NCHW or NHWC (dsconv_layout); shapes are
 * always given as logical (n, c, h, w) whatever the memory layout. Weights are always in
 * PyTorch's layout: depthwise (C*m, 1, kH, kW) with depth multiplier m, pointwise (Cout, Cin)
 * or (Cout, Cin, 1, 1), standard (Cout, Cin/groups, kH, kW); a weight shape is passed as an
 * array of int64_t and its length. An output buffer must hold the output shape's element
 * count (see the dsconv_*_output_shape functions), in the input's layout. Bias pointers may
 * be NULL; else they hold one value per output channel.
 *
 * Strings returned by the library are owned by it. dsconv_last_error()'s message stays valid
 * until the calling thread's next dsconv call; other strings say how long they live.
 */
#ifndef DSCONV_H
#define DSCONV_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define DSCONV_CAPI
#else
#define DSCONV_CAPI __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#define DSCONV_NOEXCEPT noexcept
extern "C" {
#else
#define DSCONV_NOEXCEPT
#endif

/* ------------------------------------------------------------------ status and errors */

typedef enum dsconv_status {
  DSCONV_OK = 0,
  DSCONV_ERROR_INVALID_ARGUMENT = 1, /* a bad shape, parameter, enum value or null pointer */
  DSCONV_ERROR_SIZE_OVERFLOW = 2,    /* a size whose product overflows 64 bits */
  DSCONV_ERROR_OUT_OF_MEMORY = 3,
  DSCONV_ERROR_INTERNAL = 4          /* anything else: a bug; the message says what */
} dsconv_status;

/* The message of the calling thread's last call that returned a dsconv_status: "" when that
 * was DSCONV_OK. Each thread has its own, so concurrent callers never see each other's. */
DSCONV_CAPI const char* dsconv_last_error(void) DSCONV_NOEXCEPT;

/* A status's name, e.g. "DSCONV_ERROR_INVALID_ARGUMENT" (a static string). */
DSCONV_CAPI const char* dsconv_status_string(dsconv_status status) DSCONV_NOEXCEPT;

/* The library's version, e.g. "0.1.0" (a static string). */
DSCONV_CAPI const char* dsconv_version(void) DSCONV_NOEXCEPT;

/* ------------------------------------------------------------------ parameters */

typedef enum dsconv_layout { DSCONV_NCHW = 0, DSCONV_NHWC = 1 } dsconv_layout;

typedef enum dsconv_op { DSCONV_OP_DEPTHWISE = 0, DSCONV_OP_POINTWISE = 1, DSCONV_OP_CONV2D = 2 } dsconv_op;

typedef enum dsconv_activation_kind {
  DSCONV_ACTIVATION_NONE = 0,
  DSCONV_ACTIVATION_RELU = 1,
  DSCONV_ACTIVATION_RELU6 = 2,
  DSCONV_ACTIVATION_HARDSWISH = 3,
  DSCONV_ACTIVATION_CLAMP = 4 /* min(max(v, lo), hi) */
} dsconv_activation_kind;

typedef struct dsconv_activation {
  dsconv_activation_kind kind;
  float lo, hi; /* DSCONV_ACTIVATION_CLAMP only */
} dsconv_activation;

/* Logical sizes of an activation tensor; the memory order is given by the layout. */
typedef struct dsconv_shape {
  int64_t n, c, h, w;
} dsconv_shape;

typedef struct dsconv_conv_params {
  int64_t stride_h, stride_w;
  int64_t dilation_h, dilation_w;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
  /* Non-zero: TensorFlow's "same" (output ceil(H / stride), the odd pixel padded at the
   * bottom/right); the four pads are then ignored. */
  int same_padding;
  int64_t groups; /* conv2d only; depthwise implies groups == channels */
  dsconv_activation activation;
  dsconv_layout layout;
} dsconv_conv_params;

/* Stride 1, dilation 1, no padding, groups 1, no activation, NCHW. Start from this and set
 * what differs: a zeroed struct has stride 0, which every op rejects. */
DSCONV_CAPI dsconv_conv_params dsconv_conv_params_default(void) DSCONV_NOEXCEPT;

/* Depthwise (stride, padding, dilation, its activation, the layout of both) then pointwise
 * (`activation`). */
typedef struct dsconv_separable_params {
  dsconv_conv_params depthwise;
  dsconv_activation activation;
} dsconv_separable_params;

DSCONV_CAPI dsconv_separable_params dsconv_separable_params_default(void) DSCONV_NOEXCEPT;

/* ------------------------------------------------------------------ packed weights */

/* Weights rearranged once for the kernels of the active ISA, for one op and layout: accepted
 * by that op's *_packed function, with identical results and no per-call repacking. */
typedef struct dsconv_packed_weights dsconv_packed_weights;

/* On success *out is a new handle, to be released with dsconv_packed_weights_free; on
 * failure *out is NULL. The weight array is not referenced after the call. */
DSCONV_CAPI dsconv_status dsconv_pack_weights(const float* weight, const int64_t* weight_shape, size_t weight_ndim,
                                              dsconv_op op, dsconv_layout layout,
                                              dsconv_packed_weights** out) DSCONV_NOEXCEPT;

/* Releases a handle; NULL is ignored. A handle may be used by several threads at once. */
DSCONV_CAPI void dsconv_packed_weights_free(dsconv_packed_weights* weights) DSCONV_NOEXCEPT;

/* What a handle was packed for. The shape and ISA strings live as long as the handle. */
DSCONV_CAPI dsconv_status dsconv_packed_weights_info(const dsconv_packed_weights* weights, dsconv_op* op,
                                                     dsconv_layout* layout, const int64_t** weight_shape,
                                                     size_t* weight_ndim, const char** isa) DSCONV_NOEXCEPT;

/* ------------------------------------------------------------------ output shapes */

/* Validate the arguments the way the ops do, and give the output's logical shape. */
DSCONV_CAPI dsconv_status dsconv_depthwise_output_shape(const dsconv_shape* in, const int64_t* weight_shape,
                                                        size_t weight_ndim, const dsconv_conv_params* params,
                                                        dsconv_shape* out) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_pointwise_output_shape(const dsconv_shape* in, const int64_t* weight_shape,
                                                        size_t weight_ndim, dsconv_shape* out) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_conv2d_output_shape(const dsconv_shape* in, const int64_t* weight_shape,
                                                     size_t weight_ndim, const dsconv_conv_params* params,
                                                     dsconv_shape* out) DSCONV_NOEXCEPT;

/* ------------------------------------------------------------------ the ops */

/* Depthwise convolution; params->groups is ignored. */
DSCONV_CAPI dsconv_status dsconv_depthwise_conv2d(const float* x, const dsconv_shape* in, const float* weight,
                                                  const int64_t* weight_shape, size_t weight_ndim,
                                                  const float* bias, float* y,
                                                  const dsconv_conv_params* params) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_depthwise_conv2d_packed(const float* x, const dsconv_shape* in,
                                                         const dsconv_packed_weights* weight, const float* bias,
                                                         float* y, const dsconv_conv_params* params) DSCONV_NOEXCEPT;

/* Pointwise (1x1) convolution. */
DSCONV_CAPI dsconv_status dsconv_pointwise_conv2d(const float* x, const dsconv_shape* in, const float* weight,
                                                  const int64_t* weight_shape, size_t weight_ndim,
                                                  const float* bias, float* y, dsconv_activation activation,
                                                  dsconv_layout layout) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_pointwise_conv2d_packed(const float* x, const dsconv_shape* in,
                                                         const dsconv_packed_weights* weight, const float* bias,
                                                         float* y, dsconv_activation activation,
                                                         dsconv_layout layout) DSCONV_NOEXCEPT;

/* Direct standard convolution, with groups. */
DSCONV_CAPI dsconv_status dsconv_conv2d(const float* x, const dsconv_shape* in, const float* weight,
                                        const int64_t* weight_shape, size_t weight_ndim, const float* bias,
                                        float* y, const dsconv_conv_params* params) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_conv2d_packed(const float* x, const dsconv_shape* in,
                                               const dsconv_packed_weights* weight, const float* bias, float* y,
                                               const dsconv_conv_params* params) DSCONV_NOEXCEPT;

/* Depthwise then pointwise, e.g. a MobileNet block. */
DSCONV_CAPI dsconv_status dsconv_separable_conv2d(const float* x, const dsconv_shape* in, const float* dw_weight,
                                                  const int64_t* dw_weight_shape, size_t dw_weight_ndim,
                                                  const float* pw_weight, const int64_t* pw_weight_shape,
                                                  size_t pw_weight_ndim, const float* dw_bias,
                                                  const float* pw_bias, float* y,
                                                  const dsconv_separable_params* params) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_separable_conv2d_packed(const float* x, const dsconv_shape* in,
                                                         const dsconv_packed_weights* dw_weight,
                                                         const dsconv_packed_weights* pw_weight,
                                                         const float* dw_bias, const float* pw_bias, float* y,
                                                         const dsconv_separable_params* params) DSCONV_NOEXCEPT;

/* ------------------------------------------------------------------ CPU, kernels, threads */

/* The strings live until the calling thread's next dsconv_get_cpu_info call. */
typedef struct dsconv_cpu_info {
  const char* isa;              /* active ISA: "scalar", "avx2", "avx512", "neon" */
  const char* available;        /* ISAs this CPU (and OS) can run, space-separated, best last */
  const char* features;         /* detected CPU features, space-separated */
  const char* arch;             /* "x86_64", "aarch64", "armv7", ... */
  const char* depthwise_kernel; /* the kernel family each op runs on the active ISA */
  const char* pointwise_kernel;
  const char* conv2d_kernel;
  int threads; /* threads an op may use (dsconv_set_num_threads) */
  int openmp;  /* non-zero when built with OpenMP */
} dsconv_cpu_info;

DSCONV_CAPI dsconv_status dsconv_get_cpu_info(dsconv_cpu_info* out) DSCONV_NOEXCEPT;

/* The name of the kernel a call would run (e.g. "avx512/dwconv_3x3s1_nhwc"); params may be
 * NULL for pointwise. *name lives until the calling thread's next dsconv_kernel_name call. */
DSCONV_CAPI dsconv_status dsconv_kernel_name(dsconv_op op, const dsconv_shape* in, const int64_t* weight_shape,
                                             size_t weight_ndim, const dsconv_conv_params* params,
                                             const char** name) DSCONV_NOEXCEPT;

/* Forces the dispatch to an ISA ("scalar", "avx2", ...); fails if this CPU lacks it. Not
 * thread-safe: call it before using the library. Handles packed for another ISA are then
 * rejected by the ops. */
DSCONV_CAPI dsconv_status dsconv_select_isa(const char* isa) DSCONV_NOEXCEPT;

/* The threads an op may use: n >= 1. The default is the cores this process may run on, or
 * DSCONV_NUM_THREADS from the environment (getting it fails when that is not a positive
 * integer). */
DSCONV_CAPI dsconv_status dsconv_set_num_threads(int n) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_get_num_threads(int* n) DSCONV_NOEXCEPT;

/* ------------------------------------------------------------------ cost model */

/* The C++ dsconv::Cost's fields, and its derived values. */
typedef struct dsconv_cost {
  uint64_t macs;           /* nominal: output elements x taps per output */
  uint64_t effective_macs; /* taps that land on real input, not on padding */
  uint64_t flops;          /* 2 * macs */
  uint64_t params;         /* weights (bias not included) */
  uint64_t input_bytes;
  uint64_t weight_bytes;
  uint64_t output_bytes;
  uint64_t bytes;   /* input + weight + output: the compulsory traffic */
  double intensity; /* flops / bytes */
  size_t num_parts; /* separable / ghost: their stages (2); else 0 */
} dsconv_cost;

/* Standard convolution (params->groups is used; its activation and layout are not). */
DSCONV_CAPI dsconv_status dsconv_cost_standard(const dsconv_shape* in, int64_t out_channels, int64_t kernel_h,
                                               int64_t kernel_w, const dsconv_conv_params* params,
                                               dsconv_cost* out) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_cost_depthwise(const dsconv_shape* in, int64_t kernel_h, int64_t kernel_w,
                                                const dsconv_conv_params* params, int64_t multiplier,
                                                dsconv_cost* out) DSCONV_NOEXCEPT;
DSCONV_CAPI dsconv_status dsconv_cost_pointwise(const dsconv_shape* in, int64_t out_channels,
                                                dsconv_cost* out) DSCONV_NOEXCEPT;
/* Two-stage costs: `parts` (may be NULL) receives up to max_parts stages, in order;
 * out->num_parts says how many there are. */
DSCONV_CAPI dsconv_status dsconv_cost_separable(const dsconv_shape* in, int64_t out_channels, int64_t kernel_h,
                                                int64_t kernel_w, const dsconv_conv_params* params,
                                                dsconv_cost* out, dsconv_cost* parts,
                                                size_t max_parts) DSCONV_NOEXCEPT;
/* GhostNet's module: a primary standard conv to ceil(out/ratio) channels, then a cheap
 * depthwise dw_kernel conv (multiplier ratio-1) making the rest. */
DSCONV_CAPI dsconv_status dsconv_cost_ghost(const dsconv_shape* in, int64_t out_channels, int64_t kernel_h,
                                            int64_t kernel_w, int64_t ratio, int64_t dw_kernel, int64_t stride,
                                            dsconv_cost* out, dsconv_cost* parts, size_t max_parts) DSCONV_NOEXCEPT;
/* Cost of depthwise-separable relative to standard: 1/N + 1/(kH*kW). */
DSCONV_CAPI dsconv_status dsconv_reduction_ratio(int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                                                 double* out) DSCONV_NOEXCEPT;
/* max(compute time at peak_flops FLOP/s, traffic time at bandwidth bytes/s). */
DSCONV_CAPI dsconv_status dsconv_cost_roofline_seconds(const dsconv_cost* cost, double peak_flops,
                                                       double bandwidth, double* seconds) DSCONV_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DSCONV_H */
