/*
 * The C reference of the bench's lenet workload (bench/lib/workloads.ts): one
 * plain SGD step of LeNet on a batch of MNIST digits, float32,
 *
 *   x [N,1,28,28] → conv 5×5×6 (+b1) → ReLU → max-pool 2 → conv 5×5×16 (+b2)
 *   → ReLU → max-pool 2 → flatten [N,256] (NCHW order) → ·W3 + b3 → ReLU
 *   → ·W4 + b4 → mean softmax cross-entropy,
 *
 * forward, backward and p -= lr·g. Built by bench/impls/c.ts with the
 * machine's gcc (-O3 -march=native, no -ffast-math) in one of two forms:
 *
 *   (default)     direct convolution loops, register-blocked, with the inner
 *                 loops over output columns written so that gcc vectorizes
 *                 them 8 wide (AVX2): rows of 24 / 8 outputs, reductions into
 *                 8-lane partial sums (no reassociation needed);
 *   -DUSE_BLAS    im2col into a scratch matrix + OpenBLAS sgemm (1 thread)
 *                 for both convolutions (forward, filter and input gradient)
 *                 and both dense layers.
 *
 * Max-pool routes the gradient to the first maximum of its window (the
 * parameters' gradients do not depend on the tie rule here: tied windows are
 * those of identical patches). ReLU's derivative at 0 is 0.
 *
 *   lenet PROBLEM_FILE NBATCHES LR VERIFY REPEATS TARGET_MS WARMUP_MS
 *
 * PROBLEM_FILE: float32 little-endian W1 b1 W2 b2 W3 b3 W4 b4 (shapes as
 * below) then, per batch, x [N·784] and y [N·10]. Runs the protocol of
 * bench/run-one.ts (verification, warm-up, calibration, timed runs from the
 * initial weights) and prints one `RESULT {json}` line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef USE_BLAS
#include <cblas.h>
extern void openblas_set_num_threads(int);
#endif

#ifndef BATCH
#define BATCH 32
#endif
#define N BATCH
#define H0 28
#define K1 6
#define H1 24 /* conv1 output */
#define P1 12 /* pool1 output */
#define K2 16
#define H2 8 /* conv2 output */
#define P2 4 /* pool2 output */
#define R 5
#define D3 (K2 * P2 * P2) /* 256 */
#define D4 120
#define D5 10

#define NW1 (K1 * 1 * R * R)
#define NW2 (K2 * K1 * R * R)
#define NW3 (D3 * D4)
#define NW4 (D4 * D5)
#define NPARAM (NW1 + K1 + NW2 + K2 + NW3 + D4 + NW4 + D5)

#define ALIGN __attribute__((aligned(64)))
typedef float f32;

static f32 params[NPARAM] ALIGN, init[NPARAM] ALIGN, grads[NPARAM] ALIGN;
#define W1 (params)
#define B1 (W1 + NW1)
#define W2 (B1 + K1)
#define B2 (W2 + NW2)
#define W3 (B2 + K2)
#define B3 (W3 + NW3)
#define W4 (B3 + D4)
#define B4 (W4 + NW4)
#define GW1 (grads)
#define GB1 (GW1 + NW1)
#define GW2 (GB1 + K1)
#define GB2 (GW2 + NW2)
#define GW3 (GB2 + K2)
#define GB3 (GW3 + NW3)
#define GW4 (GB3 + D4)
#define GB4 (GW4 + NW4)

/* activations (a = after ReLU), pool argmax indices, gradients */
static f32 a1[N * K1 * H1 * H1] ALIGN, p1[N * K1 * P1 * P1] ALIGN, a2[N * K2 * H2 * H2] ALIGN, p2[N * D3] ALIGN;
static int i1[N * K1 * P1 * P1], i2[N * D3];
static f32 h3[N * D4] ALIGN, z4[N * D5] ALIGN, dz4[N * D5] ALIGN, dz3[N * D4] ALIGN, dp2[N * D3] ALIGN;
static f32 dz2[N * K2 * H2 * H2] ALIGN, dp1[N * K1 * P1 * P1] ALIGN, dz1[N * K1 * H1 * H1] ALIGN;
#ifdef USE_BLAS
/* im2col scratch: one image's columns [C·R·R, OH·OW] */
static f32 col1[1 * R * R * H1 * H1] ALIGN, col2[N][K1 * R * R * H2 * H2] ALIGN, dcol2[K1 * R * R * H2 * H2] ALIGN;
#endif

/* 2×2 max-pool, stride 2, of [planes, 2P, 2P] → [planes, P, P]; idx = flat index of the (first) maximum */
static inline __attribute__((always_inline)) void pool_fwd(const f32 *restrict in, f32 *restrict out, int *restrict idx, int planes, int P) {
  for (int q = 0; q < planes; q++)
    for (int i = 0; i < P; i++)
      for (int j = 0; j < P; j++) {
        int b = q * 4 * P * P + 2 * i * 2 * P + 2 * j;
        int bi = b;
        f32 m = in[b];
        if (in[b + 1] > m) m = in[bi = b + 1];
        if (in[b + 2 * P] > m) m = in[bi = b + 2 * P];
        if (in[b + 2 * P + 1] > m) m = in[bi = b + 2 * P + 1];
        out[(q * P + i) * P + j] = m;
        idx[(q * P + i) * P + j] = bi;
      }
}

/* dz = (unpool g) ⊙ (a > 0): the pool's gradient routed to its maximum, through the ReLU */
static inline void unpool_relu(const f32 *restrict g, const int *restrict idx, int n, const f32 *restrict a, f32 *restrict dz, int nz) {
  memset(dz, 0, sizeof(f32) * nz);
  for (int t = 0; t < n; t++) {
    int k = idx[t];
    dz[k] = a[k] > 0 ? g[t] : 0;
  }
}

static f32 softmax_ce(const f32 *restrict y) {
  /* loss = mean_n (logsumexp(z_n) − y_n·z_n); dz4 = (softmax − y) / N */
  double loss = 0;
  for (int n = 0; n < N; n++) {
    const f32 *z = z4 + n * D5;
    f32 m = z[0];
    for (int j = 1; j < D5; j++) m = z[j] > m ? z[j] : m;
    f32 s = 0, e[D5];
    for (int j = 0; j < D5; j++) s += (e[j] = expf(z[j] - m));
    f32 lse = m + logf(s), yz = 0;
    for (int j = 0; j < D5; j++) yz += y[n * D5 + j] * z[j];
    loss += lse - yz;
    for (int j = 0; j < D5; j++) dz4[n * D5 + j] = (e[j] / s - y[n * D5 + j]) * (1.0f / N);
  }
  return (f32)(loss / N);
}

#ifndef USE_BLAS
/* ---------------------------------------------------------------- direct loops */

/* conv (valid, stride 1) + bias + ReLU: in [C,HI,HI] → a [KOUT,HO,HO]; KB output channels per block, one output row (HO
   wide, HO multiple of 8) in KB·HO/8 vector accumulators over the whole C·R·R reduction */
static inline __attribute__((always_inline)) void conv_fwd(const f32 *restrict in, const f32 *restrict w, const f32 *restrict b, f32 *restrict a, int C, int HI, int KOUT, int HO, int KB) {
  for (int k0 = 0; k0 < KOUT; k0 += KB)
    for (int oh = 0; oh < HO; oh++) {
      f32 acc[KB][HO];
      for (int kb = 0; kb < KB; kb++)
        for (int ow = 0; ow < HO; ow++) acc[kb][ow] = b[k0 + kb];
      for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++)
          for (int s = 0; s < R; s++) {
            const f32 *row = in + (c * HI + oh + r) * HI + s;
            for (int kb = 0; kb < KB; kb++) {
              f32 wv = w[(((k0 + kb) * C + c) * R + r) * R + s];
              for (int ow = 0; ow < HO; ow++) acc[kb][ow] += wv * row[ow];
            }
          }
      for (int kb = 0; kb < KB; kb++)
        for (int ow = 0; ow < HO; ow++) a[((k0 + kb) * HO + oh) * HO + ow] = acc[kb][ow] > 0 ? acc[kb][ow] : 0;
    }
}

/* dW[k,c,r,s] += Σ_{oh,ow} dz[k,oh,ow]·in[c,oh+r,ow+s] and db[k] += Σ dz[k,·,·] for one image: per (k,c,r), R·HO partial
   sums over (oh, ow), reduced at the end */
static inline __attribute__((always_inline)) void conv_bwd_filter(const f32 *restrict in, const f32 *restrict dz, f32 *restrict dw, f32 *restrict db, int C, int HI, int KOUT, int HO) {
  for (int k = 0; k < KOUT; k++) {
    const f32 *g = dz + k * HO * HO;
    f32 sb[HO];
    for (int ow = 0; ow < HO; ow++) sb[ow] = 0;
    for (int oh = 0; oh < HO; oh++)
      for (int ow = 0; ow < HO; ow++) sb[ow] += g[oh * HO + ow];
    f32 tb = 0;
    for (int ow = 0; ow < HO; ow++) tb += sb[ow];
    db[k] += tb;
    for (int c = 0; c < C; c++)
      for (int r = 0; r < R; r++) {
        f32 acc[R][HO];
        for (int s = 0; s < R; s++)
          for (int ow = 0; ow < HO; ow++) acc[s][ow] = 0;
        for (int oh = 0; oh < HO; oh++) {
          const f32 *gr = g + oh * HO;
          const f32 *row = in + (c * HI + oh + r) * HI;
          for (int s = 0; s < R; s++)
            for (int ow = 0; ow < HO; ow++) acc[s][ow] += gr[ow] * row[s + ow];
        }
        for (int s = 0; s < R; s++) {
          f32 t = 0;
          for (int ow = 0; ow < HO; ow++) t += acc[s][ow];
          dw[((k * C + c) * R + r) * R + s] += t;
        }
      }
  }
}

/* din[c,h,w] = Σ_{k,r,s} dz[k,h−r,w−s]·W[k,c,r,s] for one image (the transposed convolution), as HO-wide axpys */
static inline __attribute__((always_inline)) void conv_bwd_input(const f32 *restrict dz, const f32 *restrict w, f32 *restrict din, int C, int HI, int KOUT, int HO) {
  memset(din, 0, sizeof(f32) * C * HI * HI);
  for (int c = 0; c < C; c++)
    for (int oh = 0; oh < HO; oh++)
      for (int r = 0; r < R; r++) {
        for (int s = 0; s < R; s++) {
          f32 *out = din + (c * HI + oh + r) * HI + s;
          f32 acc[HO];
          for (int ow = 0; ow < HO; ow++) acc[ow] = out[ow];
          for (int k = 0; k < KOUT; k++) {
            f32 wv = w[((k * C + c) * R + r) * R + s];
            const f32 *g = dz + (k * HO + oh) * HO;
            for (int ow = 0; ow < HO; ow++) acc[ow] += wv * g[ow];
          }
          for (int ow = 0; ow < HO; ow++) out[ow] = acc[ow];
        }
      }
}

/* y[n,:] = act(x[n,:]·W + b), W [I,J] row-major, J multiple of 8 or small */
static inline __attribute__((always_inline)) void dense_fwd(const f32 *restrict x, const f32 *restrict w, const f32 *restrict b, f32 *restrict y, int I, int J, int relu) {
  for (int n = 0; n < N; n++) {
    f32 acc[J];
    for (int j = 0; j < J; j++) acc[j] = b[j];
    for (int i = 0; i < I; i++) {
      f32 xv = x[n * I + i];
      for (int j = 0; j < J; j++) acc[j] += xv * w[i * J + j];
    }
    for (int j = 0; j < J; j++) y[n * J + j] = relu ? (acc[j] > 0 ? acc[j] : 0) : acc[j];
  }
}

/* dW = xᵀ·dz, db = Σ_n dz */
static inline __attribute__((always_inline)) void dense_bwd_w(const f32 *restrict x, const f32 *restrict dz, f32 *restrict dw, f32 *restrict db, int I, int J) {
  for (int j = 0; j < J; j++) db[j] = 0;
  for (int n = 0; n < N; n++)
    for (int j = 0; j < J; j++) db[j] += dz[n * J + j];
  for (int i = 0; i < I; i++) {
    f32 acc[J];
    for (int j = 0; j < J; j++) acc[j] = 0;
    for (int n = 0; n < N; n++) {
      f32 xv = x[n * I + i];
      for (int j = 0; j < J; j++) acc[j] += xv * dz[n * J + j];
    }
    for (int j = 0; j < J; j++) dw[i * J + j] = acc[j];
  }
}

/* dx[n,i] = Σ_j dz[n,j]·W[i,j] (8-lane partial sums), masked by (mask > 0) when mask is given */
static inline __attribute__((always_inline)) void dense_bwd_x(const f32 *restrict dz, const f32 *restrict w, f32 *restrict dx, const f32 *restrict mask, int I, int J) {
  for (int n = 0; n < N; n++)
    for (int i = 0; i < I; i++) {
      f32 acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int j = 0;
      for (; j + 8 <= J; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += dz[n * J + j + l] * w[i * J + j + l];
      f32 t = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; j < J; j++) t += dz[n * J + j] * w[i * J + j];
      dx[n * I + i] = mask && !(mask[n * I + i] > 0) ? 0 : t;
    }
}

static f32 step(const f32 *restrict x, const f32 *restrict y) {
  for (int n = 0; n < N; n++) {
    conv_fwd(x + n * H0 * H0, W1, B1, a1 + n * K1 * H1 * H1, 1, H0, K1, H1, 2);
    pool_fwd(a1 + n * K1 * H1 * H1, p1 + n * K1 * P1 * P1, i1 + n * K1 * P1 * P1, K1, P1);
    conv_fwd(p1 + n * K1 * P1 * P1, W2, B2, a2 + n * K2 * H2 * H2, K1, P1, K2, H2, 8);
    pool_fwd(a2 + n * K2 * H2 * H2, p2 + n * D3, i2 + n * D3, K2, P2);
  }
  dense_fwd(p2, W3, B3, h3, D3, D4, 1);
  dense_fwd(h3, W4, B4, z4, D4, D5, 0);
  f32 loss = softmax_ce(y);
  dense_bwd_w(h3, dz4, GW4, GB4, D4, D5);
  dense_bwd_x(dz4, W4, dz3, h3, D4, D5);
  dense_bwd_w(p2, dz3, GW3, GB3, D3, D4);
  dense_bwd_x(dz3, W3, dp2, 0, D3, D4);
  memset(GW2, 0, sizeof(f32) * (NW2 + K2));
  memset(GW1, 0, sizeof(f32) * (NW1 + K1));
  for (int n = 0; n < N; n++) {
    unpool_relu(dp2 + n * D3, i2 + n * D3, D3, a2 + n * K2 * H2 * H2, dz2 + n * K2 * H2 * H2, K2 * H2 * H2);
    conv_bwd_filter(p1 + n * K1 * P1 * P1, dz2 + n * K2 * H2 * H2, GW2, GB2, K1, P1, K2, H2);
    conv_bwd_input(dz2 + n * K2 * H2 * H2, W2, dp1 + n * K1 * P1 * P1, K1, P1, K2, H2);
    unpool_relu(dp1 + n * K1 * P1 * P1, i1 + n * K1 * P1 * P1, K1 * P1 * P1, a1 + n * K1 * H1 * H1, dz1 + n * K1 * H1 * H1, K1 * H1 * H1);
    conv_bwd_filter(x + n * H0 * H0, dz1 + n * K1 * H1 * H1, GW1, GB1, 1, H0, K1, H1);
  }
  return loss;
}
#else
/* ---------------------------------------------------------------- im2col + sgemm */

/* col [C·R·R, HO·HO] of one image [C,HI,HI] */
static void im2col(const f32 *restrict in, f32 *restrict col, int C, int HI, int HO) {
  for (int c = 0; c < C; c++)
    for (int r = 0; r < R; r++)
      for (int s = 0; s < R; s++) {
        f32 *dst = col + ((c * R + r) * R + s) * HO * HO;
        for (int oh = 0; oh < HO; oh++) memcpy(dst + oh * HO, in + (c * HI + oh + r) * HI + s, sizeof(f32) * HO);
      }
}
/* din [C,HI,HI] = col2im(dcol) */
static void col2im(const f32 *restrict col, f32 *restrict din, int C, int HI, int HO) {
  memset(din, 0, sizeof(f32) * C * HI * HI);
  for (int c = 0; c < C; c++)
    for (int r = 0; r < R; r++)
      for (int s = 0; s < R; s++) {
        const f32 *src = col + ((c * R + r) * R + s) * HO * HO;
        for (int oh = 0; oh < HO; oh++) {
          f32 *d = din + (c * HI + oh + r) * HI + s;
          for (int ow = 0; ow < HO; ow++) d[ow] += src[oh * HO + ow];
        }
      }
}
static void bias_relu_planes(f32 *restrict a, const f32 *restrict b, int K, int P) {
  for (int k = 0; k < K; k++)
    for (int i = 0; i < P; i++) {
      f32 v = a[k * P + i] + b[k];
      a[k * P + i] = v > 0 ? v : 0;
    }
}
static void bias_rows(f32 *restrict y, const f32 *restrict b, int J) {
  for (int n = 0; n < N; n++)
    for (int j = 0; j < J; j++) y[n * J + j] = b[j];
}
static void colsum(const f32 *restrict dz, f32 *restrict db, int rows, int J) {
  for (int j = 0; j < J; j++) db[j] = 0;
  for (int n = 0; n < rows; n++)
    for (int j = 0; j < J; j++) db[j] += dz[n * J + j];
}
static void relu_mask(f32 *restrict d, const f32 *restrict a, int n) {
  for (int i = 0; i < n; i++) d[i] = a[i] > 0 ? d[i] : 0;
}

#define CRS1 (1 * R * R)
#define CRS2 (K1 * R * R)
static f32 step(const f32 *restrict x, const f32 *restrict y) {
  for (int n = 0; n < N; n++) {
    /* a1_n [K1, H1²] = W1 [K1, CRS1] · col1 [CRS1, H1²] */
    im2col(x + n * H0 * H0, col1, 1, H0, H1);
    f32 *a = a1 + n * K1 * H1 * H1;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K1, H1 * H1, CRS1, 1, W1, CRS1, col1, H1 * H1, 0, a, H1 * H1);
    bias_relu_planes(a, B1, K1, H1 * H1);
    pool_fwd(a, p1 + n * K1 * P1 * P1, i1 + n * K1 * P1 * P1, K1, P1);
    im2col(p1 + n * K1 * P1 * P1, col2[n], K1, P1, H2);
    f32 *b = a2 + n * K2 * H2 * H2;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K2, H2 * H2, CRS2, 1, W2, CRS2, col2[n], H2 * H2, 0, b, H2 * H2);
    bias_relu_planes(b, B2, K2, H2 * H2);
    pool_fwd(b, p2 + n * D3, i2 + n * D3, K2, P2);
  }
  bias_rows(h3, B3, D4);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D4, D3, 1, p2, D3, W3, D4, 1, h3, D4);
  for (int i = 0; i < N * D4; i++) h3[i] = h3[i] > 0 ? h3[i] : 0;
  bias_rows(z4, B4, D5);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D5, D4, 1, h3, D4, W4, D5, 1, z4, D5);
  f32 loss = softmax_ce(y);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D4, D5, N, 1, h3, D4, dz4, D5, 0, GW4, D5);
  colsum(dz4, GB4, N, D5);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, D4, D5, 1, dz4, D5, W4, D5, 0, dz3, D4);
  relu_mask(dz3, h3, N * D4);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D3, D4, N, 1, p2, D3, dz3, D4, 0, GW3, D4);
  colsum(dz3, GB3, N, D4);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, D3, D4, 1, dz3, D4, W3, D4, 0, dp2, D3);
  memset(GB2, 0, sizeof(f32) * K2);
  memset(GB1, 0, sizeof(f32) * K1);
  for (int n = 0; n < N; n++) {
    f32 *g2 = dz2 + n * K2 * H2 * H2;
    unpool_relu(dp2 + n * D3, i2 + n * D3, D3, a2 + n * K2 * H2 * H2, g2, K2 * H2 * H2);
    /* dW2 [K2, CRS2] += g2 [K2, H2²] · col2ᵀ */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K2, CRS2, H2 * H2, 1, g2, H2 * H2, col2[n], H2 * H2, n ? 1 : 0, GW2, CRS2);
    for (int k = 0; k < K2; k++)
      for (int i = 0; i < H2 * H2; i++) GB2[k] += g2[k * H2 * H2 + i];
    /* dcol2 [CRS2, H2²] = W2ᵀ · g2, then col2im */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CRS2, H2 * H2, K2, 1, W2, CRS2, g2, H2 * H2, 0, dcol2, H2 * H2);
    col2im(dcol2, dp1 + n * K1 * P1 * P1, K1, P1, H2);
    f32 *g1 = dz1 + n * K1 * H1 * H1;
    unpool_relu(dp1 + n * K1 * P1 * P1, i1 + n * K1 * P1 * P1, K1 * P1 * P1, a1 + n * K1 * H1 * H1, g1, K1 * H1 * H1);
    im2col(x + n * H0 * H0, col1, 1, H0, H1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K1, CRS1, H1 * H1, 1, g1, H1 * H1, col1, H1 * H1, n ? 1 : 0, GW1, CRS1);
    for (int k = 0; k < K1; k++)
      for (int i = 0; i < H1 * H1; i++) GB1[k] += g1[k * H1 * H1 + i];
  }
  return loss;
}
#endif

/* ---------------------------------------------------------------- protocol */
static f32 *xs, *ys;
static int nb, cur;
static f32 lr, last;

static void sgd(void) {
  for (int i = 0; i < NPARAM; i++) params[i] -= lr * grads[i];
}
static void reset(void) {
  memcpy(params, init, sizeof params);
  cur = 0;
}
static void run(long steps) {
  for (long s = 0; s < steps; s++) {
    last = step(xs + (size_t)cur * N * H0 * H0, ys + (size_t)cur * N * D5);
    sgd();
    cur = cur + 1 == nb ? 0 : cur + 1;
  }
}
static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s PROBLEM NBATCHES LR VERIFY REPEATS TARGET_MS WARMUP_MS\n", argv[0]);
    return 2;
  }
#ifdef USE_BLAS
  openblas_set_num_threads(1);
#endif
  nb = atoi(argv[2]);
  lr = (f32)atof(argv[3]);
  int verify = atoi(argv[4]), repeats = atoi(argv[5]);
  double target = atof(argv[6]), warmup = atof(argv[7]);
  size_t nx = (size_t)nb * N * H0 * H0, ny = (size_t)nb * N * D5;
  xs = malloc(sizeof(f32) * nx);
  ys = malloc(sizeof(f32) * ny);
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  if (fread(init, sizeof(f32), NPARAM, f) != NPARAM) {
    fprintf(stderr, "%s: short read (params)\n", argv[1]);
    return 1;
  }
  for (int b = 0; b < nb; b++)
    if (fread(xs + (size_t)b * N * H0 * H0, sizeof(f32), N * H0 * H0, f) != N * H0 * H0 || fread(ys + (size_t)b * N * D5, sizeof(f32), N * D5, f) != N * D5) {
      fprintf(stderr, "%s: short read (batch %d)\n", argv[1], b);
      return 1;
    }
  if (fgetc(f) != EOF) {
    fprintf(stderr, "%s: longer than the lenet problem (batch %d)\n", argv[1], N);
    return 1;
  }
  fclose(f);

  double tv = now_ms();
  reset();
  run(1);
  f32 first = last;
  run(verify - 1);
  f32 verified = last;
  long warm = 0, chunk = 1;
  while (now_ms() - tv < warmup || warm < 3) {
    run(chunk);
    warm += chunk;
    chunk = chunk * 2 > 4096 ? 4096 : chunk * 2;
  }
  reset();
  long probe = 1;
  double probeMs;
  for (;;) {
    double t0 = now_ms();
    run(probe);
    probeMs = now_ms() - t0;
    if (probeMs > target / 10 || probe >= 1L << 22) break;
    probe *= 4;
  }
  long steps = (long)(probe * target / (probeMs > 1e-3 ? probeMs : 1e-3) + 0.5);
  if (steps < 1) steps = 1;
  double *ms = malloc(sizeof(double) * repeats), *sorted = malloc(sizeof(double) * repeats);
  f32 lo = INFINITY, hi = -INFINITY;
  for (int r = 0; r < repeats; r++) {
    reset();
    double t0 = now_ms();
    run(steps);
    ms[r] = (now_ms() - t0) / steps;
    lo = last < lo ? last : lo;
    hi = last > hi ? last : hi;
  }
  memcpy(sorted, ms, sizeof(double) * repeats);
  qsort(sorted, repeats, sizeof(double), cmp);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("RESULT {\"firstLoss\":%.9g,\"verifyLoss\":%.9g,\"warmSteps\":%ld,\"stepsPerRepeat\":%ld,\"timedLossSpread\":%.9g,\"peakRssKB\":%ld,\"msPerStep\":[", first, verified, warm, steps, hi - lo, ru.ru_maxrss);
  for (int r = 0; r < repeats; r++) printf("%s%.9g", r ? "," : "", ms[r]);
  printf("]}\n");
  return 0;
}
