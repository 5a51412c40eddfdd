/**
 * Hand-written ReLU MLP with a softmax cross-entropy loss (mean over the
 * batch), the way an expert writes it in plain JS over Float32Arrays:
 * everything preallocated (zero allocation per step), forward and backward
 * written out by hand, the bias + ReLU epilogue fused into the matmul, and
 * the matmuls register-blocked: a 4×4 tile of outputs is held in 16 local
 * accumulators while the reduction axis runs innermost, so every loaded
 * element feeds 4 multiply-adds and no accumulator goes through memory.
 *
 * `kernels: "naive"` swaps in the textbook i-k-j loops (one output row at a
 * time, accumulating in the output array) for reference: same math, same
 * buffers.
 *
 * Parameters are one flat Float32Array in the order W1, b1, W2, b2, … with
 * W_l row-major [in, out] (x · W convention), the same order as gradc's
 * layout, so the bench can share one SGD loop.
 */

export type Kernels = "blocked" | "naive";

export class Mlp {
  readonly params: Float32Array;
  readonly grads: Float32Array;
  /** Softmax probabilities of the last forward pass, [batch, classes]. */
  readonly probs: Float32Array;
  private readonly L: number;
  private readonly wOff: Int32Array;
  private readonly bOff: Int32Array;
  /** acts[l] = post-ReLU output of layer l (l < L-1); acts[L-1] = logits. */
  private readonly acts: Float32Array[];
  /** deltas[l] = dLoss/d(pre-activation of layer l), [batch, sizes[l+1]]. */
  private readonly deltas: Float32Array[];
  private readonly blocked: boolean;

  constructor(
    readonly sizes: readonly number[],
    readonly batch: number,
    kernels: Kernels = "blocked",
  ) {
    this.L = sizes.length - 1;
    this.blocked = kernels === "blocked";
    this.wOff = new Int32Array(this.L);
    this.bOff = new Int32Array(this.L);
    let off = 0;
    this.acts = [];
    this.deltas = [];
    for (let l = 0; l < this.L; l++) {
      this.wOff[l] = off;
      off += sizes[l]! * sizes[l + 1]!;
      this.bOff[l] = off;
      off += sizes[l + 1]!;
      this.acts.push(new Float32Array(batch * sizes[l + 1]!));
      this.deltas.push(new Float32Array(batch * sizes[l + 1]!));
    }
    this.params = new Float32Array(off);
    this.grads = new Float32Array(off);
    this.probs = new Float32Array(batch * sizes[this.L]!);
  }

  /** Forward + backward on one batch (x [batch, in], y [batch, classes] one-hot / soft targets); returns the mean loss over the first n rows and leaves dLoss/dparams in `grads`. */
  step(x: Float32Array, y: Float32Array, n: number = this.batch): number {
    const { L, sizes, params, grads, acts, deltas, batch: M } = this;
    const blocked = this.blocked;
    // forward
    let A = x;
    for (let l = 0; l < L; l++) {
      const K = sizes[l]!;
      const N = sizes[l + 1]!;
      const relu = l < L - 1;
      if (blocked) linearBlocked(A, params, this.wOff[l]!, this.bOff[l]!, acts[l]!, M, K, N, relu);
      else linearNaive(A, params, this.wOff[l]!, this.bOff[l]!, acts[l]!, M, K, N, relu);
      A = acts[l]!;
    }
    // softmax cross-entropy, fused with its gradient: dZ = (softmax(z) - y) / n
    const C = sizes[L]!;
    const Z = acts[L - 1]!;
    const P = this.probs;
    const dZ = deltas[L - 1]!;
    const invN = 1 / n;
    let loss = 0;
    for (let i = 0; i < M; i++) {
      const r = i * C;
      let mx = Z[r]!;
      for (let j = 1; j < C; j++) if (Z[r + j]! > mx) mx = Z[r + j]!;
      let s = 0;
      for (let j = 0; j < C; j++) {
        const e = Math.exp(Z[r + j]! - mx);
        P[r + j] = e;
        s += e;
      }
      const lse = mx + Math.log(s);
      const inv = 1 / s;
      const scale = i < n ? invN : 0;
      let yz = 0;
      for (let j = 0; j < C; j++) {
        const p = P[r + j]! * inv;
        P[r + j] = p;
        yz += y[r + j]! * Z[r + j]!;
        dZ[r + j] = (p - y[r + j]!) * scale;
      }
      if (i < n) loss += lse - yz;
    }
    loss *= invN;
    // backward
    for (let l = L - 1; l >= 0; l--) {
      const K = sizes[l]!;
      const N = sizes[l + 1]!;
      const Ain = l === 0 ? x : acts[l - 1]!;
      const D = deltas[l]!;
      if (blocked) {
        weightGradBlocked(Ain, D, grads, this.wOff[l]!, this.bOff[l]!, M, K, N);
        if (l > 0) inputGradReluBlocked(D, params, this.wOff[l]!, Ain, deltas[l - 1]!, M, K, N);
      } else {
        weightGradNaive(Ain, D, grads, this.wOff[l]!, this.bOff[l]!, M, K, N);
        if (l > 0) inputGradReluNaive(D, params, this.wOff[l]!, Ain, deltas[l - 1]!, M, K, N);
      }
    }
    return loss;
  }
}

// ---------------------------------------------------------------------------
// Register-blocked kernels (M, the batch, must be a multiple of 4; any K, N).

/** C[M,N] = A[M,K] · W[K,N] + b, then ReLU if `relu`. 4×4 output tiles, k innermost. */
function linearBlocked(A: Float32Array, P: Float32Array, w: number, b: number, C: Float32Array, M: number, K: number, N: number, relu: boolean): void {
  const N4 = N & ~3;
  for (let i = 0; i < M; i += 4) {
    const a0 = i * K;
    const a1 = a0 + K;
    const a2 = a1 + K;
    const a3 = a2 + K;
    const c0 = i * N;
    const c1 = c0 + N;
    const c2 = c1 + N;
    const c3 = c2 + N;
    let j = 0;
    for (; j < N4; j += 4) {
      let s00 = P[b + j]!, s01 = P[b + j + 1]!, s02 = P[b + j + 2]!, s03 = P[b + j + 3]!;
      let s10 = s00, s11 = s01, s12 = s02, s13 = s03;
      let s20 = s00, s21 = s01, s22 = s02, s23 = s03;
      let s30 = s00, s31 = s01, s32 = s02, s33 = s03;
      for (let k = 0, q = w + j; k < K; k++, q += N) {
        const y0 = P[q]!, y1 = P[q + 1]!, y2 = P[q + 2]!, y3 = P[q + 3]!;
        let v = A[a0 + k]!;
        s00 += v * y0; s01 += v * y1; s02 += v * y2; s03 += v * y3;
        v = A[a1 + k]!;
        s10 += v * y0; s11 += v * y1; s12 += v * y2; s13 += v * y3;
        v = A[a2 + k]!;
        s20 += v * y0; s21 += v * y1; s22 += v * y2; s23 += v * y3;
        v = A[a3 + k]!;
        s30 += v * y0; s31 += v * y1; s32 += v * y2; s33 += v * y3;
      }
      if (relu) {
        C[c0 + j] = s00 > 0 ? s00 : 0; C[c0 + j + 1] = s01 > 0 ? s01 : 0; C[c0 + j + 2] = s02 > 0 ? s02 : 0; C[c0 + j + 3] = s03 > 0 ? s03 : 0;
        C[c1 + j] = s10 > 0 ? s10 : 0; C[c1 + j + 1] = s11 > 0 ? s11 : 0; C[c1 + j + 2] = s12 > 0 ? s12 : 0; C[c1 + j + 3] = s13 > 0 ? s13 : 0;
        C[c2 + j] = s20 > 0 ? s20 : 0; C[c2 + j + 1] = s21 > 0 ? s21 : 0; C[c2 + j + 2] = s22 > 0 ? s22 : 0; C[c2 + j + 3] = s23 > 0 ? s23 : 0;
        C[c3 + j] = s30 > 0 ? s30 : 0; C[c3 + j + 1] = s31 > 0 ? s31 : 0; C[c3 + j + 2] = s32 > 0 ? s32 : 0; C[c3 + j + 3] = s33 > 0 ? s33 : 0;
      } else {
        C[c0 + j] = s00; C[c0 + j + 1] = s01; C[c0 + j + 2] = s02; C[c0 + j + 3] = s03;
        C[c1 + j] = s10; C[c1 + j + 1] = s11; C[c1 + j + 2] = s12; C[c1 + j + 3] = s13;
        C[c2 + j] = s20; C[c2 + j + 1] = s21; C[c2 + j + 2] = s22; C[c2 + j + 3] = s23;
        C[c3 + j] = s30; C[c3 + j + 1] = s31; C[c3 + j + 2] = s32; C[c3 + j + 3] = s33;
      }
    }
    for (; j < N; j++) {
      // column tail: 4×1 tiles
      let s0 = P[b + j]!;
      let s1 = s0, s2 = s0, s3 = s0;
      for (let k = 0, q = w + j; k < K; k++, q += N) {
        const yv = P[q]!;
        s0 += A[a0 + k]! * yv; s1 += A[a1 + k]! * yv; s2 += A[a2 + k]! * yv; s3 += A[a3 + k]! * yv;
      }
      if (relu) {
        C[c0 + j] = s0 > 0 ? s0 : 0; C[c1 + j] = s1 > 0 ? s1 : 0; C[c2 + j] = s2 > 0 ? s2 : 0; C[c3 + j] = s3 > 0 ? s3 : 0;
      } else {
        C[c0 + j] = s0; C[c1 + j] = s1; C[c2 + j] = s2; C[c3 + j] = s3;
      }
    }
  }
}

/** dW[K,N] = Aᵀ · D (D = dLoss/dZ, [M,N]) and db[N] = column sums of D. 4×4 tiles of dW, the batch axis innermost. */
function weightGradBlocked(A: Float32Array, D: Float32Array, G: Float32Array, w: number, b: number, M: number, K: number, N: number): void {
  const K4 = K & ~3;
  const N4 = N & ~3;
  let k = 0;
  for (; k < K4; k += 4) {
    const g0 = w + k * N;
    const g1 = g0 + N;
    const g2 = g1 + N;
    const g3 = g2 + N;
    let j = 0;
    for (; j < N4; j += 4) {
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let i = 0, a = k, d = j; i < M; i++, a += K, d += N) {
        const d0 = D[d]!, d1 = D[d + 1]!, d2 = D[d + 2]!, d3 = D[d + 3]!;
        let v = A[a]!;
        s00 += v * d0; s01 += v * d1; s02 += v * d2; s03 += v * d3;
        v = A[a + 1]!;
        s10 += v * d0; s11 += v * d1; s12 += v * d2; s13 += v * d3;
        v = A[a + 2]!;
        s20 += v * d0; s21 += v * d1; s22 += v * d2; s23 += v * d3;
        v = A[a + 3]!;
        s30 += v * d0; s31 += v * d1; s32 += v * d2; s33 += v * d3;
      }
      G[g0 + j] = s00; G[g0 + j + 1] = s01; G[g0 + j + 2] = s02; G[g0 + j + 3] = s03;
      G[g1 + j] = s10; G[g1 + j + 1] = s11; G[g1 + j + 2] = s12; G[g1 + j + 3] = s13;
      G[g2 + j] = s20; G[g2 + j + 1] = s21; G[g2 + j + 2] = s22; G[g2 + j + 3] = s23;
      G[g3 + j] = s30; G[g3 + j + 1] = s31; G[g3 + j + 2] = s32; G[g3 + j + 3] = s33;
    }
    for (; j < N; j++) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = 0, a = k, d = j; i < M; i++, a += K, d += N) {
        const dv = D[d]!;
        s0 += A[a]! * dv; s1 += A[a + 1]! * dv; s2 += A[a + 2]! * dv; s3 += A[a + 3]! * dv;
      }
      G[g0 + j] = s0; G[g1 + j] = s1; G[g2 + j] = s2; G[g3 + j] = s3;
    }
  }
  for (; k < K; k++) {
    // row tail of dW
    const g0 = w + k * N;
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let i = 0; i < M; i++) s += A[i * K + k]! * D[i * N + j]!;
      G[g0 + j] = s;
    }
  }
  for (let j = 0; j < N; j++) G[b + j] = 0;
  for (let i = 0; i < M; i++) {
    const d = i * N;
    for (let j = 0; j < N; j++) G[b + j] += D[d + j]!;
  }
}

/** dA[M,K] = (D · Wᵀ) ⊙ (A > 0): the gradient through the previous layer's ReLU. 4×4 tiles, N innermost (rows of D and W are contiguous). */
function inputGradReluBlocked(D: Float32Array, P: Float32Array, w: number, A: Float32Array, dA: Float32Array, M: number, K: number, N: number): void {
  const K4 = K & ~3;
  for (let i = 0; i < M; i += 4) {
    const d0 = i * N;
    const d1 = d0 + N;
    const d2 = d1 + N;
    const d3 = d2 + N;
    const o0 = i * K;
    const o1 = o0 + K;
    const o2 = o1 + K;
    const o3 = o2 + K;
    let k = 0;
    for (; k < K4; k += 4) {
      const w0 = w + k * N;
      const w1 = w0 + N;
      const w2 = w1 + N;
      const w3 = w2 + N;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let j = 0; j < N; j++) {
        const y0 = P[w0 + j]!, y1 = P[w1 + j]!, y2 = P[w2 + j]!, y3 = P[w3 + j]!;
        let v = D[d0 + j]!;
        s00 += v * y0; s01 += v * y1; s02 += v * y2; s03 += v * y3;
        v = D[d1 + j]!;
        s10 += v * y0; s11 += v * y1; s12 += v * y2; s13 += v * y3;
        v = D[d2 + j]!;
        s20 += v * y0; s21 += v * y1; s22 += v * y2; s23 += v * y3;
        v = D[d3 + j]!;
        s30 += v * y0; s31 += v * y1; s32 += v * y2; s33 += v * y3;
      }
      dA[o0 + k] = A[o0 + k]! > 0 ? s00 : 0; dA[o0 + k + 1] = A[o0 + k + 1]! > 0 ? s01 : 0; dA[o0 + k + 2] = A[o0 + k + 2]! > 0 ? s02 : 0; dA[o0 + k + 3] = A[o0 + k + 3]! > 0 ? s03 : 0;
      dA[o1 + k] = A[o1 + k]! > 0 ? s10 : 0; dA[o1 + k + 1] = A[o1 + k + 1]! > 0 ? s11 : 0; dA[o1 + k + 2] = A[o1 + k + 2]! > 0 ? s12 : 0; dA[o1 + k + 3] = A[o1 + k + 3]! > 0 ? s13 : 0;
      dA[o2 + k] = A[o2 + k]! > 0 ? s20 : 0; dA[o2 + k + 1] = A[o2 + k + 1]! > 0 ? s21 : 0; dA[o2 + k + 2] = A[o2 + k + 2]! > 0 ? s22 : 0; dA[o2 + k + 3] = A[o2 + k + 3]! > 0 ? s23 : 0;
      dA[o3 + k] = A[o3 + k]! > 0 ? s30 : 0; dA[o3 + k + 1] = A[o3 + k + 1]! > 0 ? s31 : 0; dA[o3 + k + 2] = A[o3 + k + 2]! > 0 ? s32 : 0; dA[o3 + k + 3] = A[o3 + k + 3]! > 0 ? s33 : 0;
    }
    for (; k < K; k++) {
      const w0 = w + k * N;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < N; j++) {
        const yv = P[w0 + j]!;
        s0 += D[d0 + j]! * yv; s1 += D[d1 + j]! * yv; s2 += D[d2 + j]! * yv; s3 += D[d3 + j]! * yv;
      }
      dA[o0 + k] = A[o0 + k]! > 0 ? s0 : 0;
      dA[o1 + k] = A[o1 + k]! > 0 ? s1 : 0;
      dA[o2 + k] = A[o2 + k]! > 0 ? s2 : 0;
      dA[o3 + k] = A[o3 + k]! > 0 ? s3 : 0;
    }
  }
}

// ---------------------------------------------------------------------------
// Textbook kernels: i-k-j order, accumulate in the output array.

function linearNaive(A: Float32Array, P: Float32Array, w: number, b: number, C: Float32Array, M: number, K: number, N: number, relu: boolean): void {
  for (let i = 0; i < M; i++) {
    const c = i * N;
    const a = i * K;
    for (let j = 0; j < N; j++) C[c + j] = P[b + j]!;
    for (let k = 0; k < K; k++) {
      const v = A[a + k]!;
      const q = w + k * N;
      for (let j = 0; j < N; j++) C[c + j] += v * P[q + j]!;
    }
    if (relu)
      for (let j = 0; j < N; j++) {
        const v = C[c + j]!;
        C[c + j] = v > 0 ? v : 0;
      }
  }
}

function weightGradNaive(A: Float32Array, D: Float32Array, G: Float32Array, w: number, b: number, M: number, K: number, N: number): void {
  G.fill(0, w, w + K * N);
  G.fill(0, b, b + N);
  for (let i = 0; i < M; i++) {
    const a = i * K;
    const d = i * N;
    for (let k = 0; k < K; k++) {
      const v = A[a + k]!;
      const g = w + k * N;
      for (let j = 0; j < N; j++) G[g + j] += v * D[d + j]!;
    }
    for (let j = 0; j < N; j++) G[b + j] += D[d + j]!;
  }
}

function inputGradReluNaive(D: Float32Array, P: Float32Array, w: number, A: Float32Array, dA: Float32Array, M: number, K: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const d = i * N;
    const o = i * K;
    for (let k = 0; k < K; k++) {
      const q = w + k * N;
      let s = 0;
      for (let j = 0; j < N; j++) s += D[d + j]! * P[q + j]!;
      dA[o + k] = A[o + k]! > 0 ? s : 0;
    }
  }
}
