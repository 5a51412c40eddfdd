/**
 * Hand-written forward + backward for the two tiny networks, the way an
 * expert writes them in plain JS: every parameter read once into a local,
 * every example's forward and backward in scalar locals, gradients
 * accumulated in locals and stored once. No allocation.
 *
 * Parameter order (flat Float32Array) is the spec's: W1 [2,2] row-major
 * (x · W), b1 [2], W2 [2,1], b2 [1] — the same as gradc's layout.
 *
 * The loss goes to `out[0]` rather than being returned: a double returned
 * from a call V8 does not inline is boxed (one HeapNumber per step).
 */

/** XOR, 2-2-1: sigmoid hidden layer, one logit, mean BCE-with-logits over the batch of 4 (x [4,2], t [4,1]). Writes grads into g and the loss into out[0]. */
export function xorStep(p: Float32Array, g: Float32Array, x: Float32Array, t: Float32Array, out: Float64Array): void {
  const w00 = p[0]!, w01 = p[1]!, w10 = p[2]!, w11 = p[3]!;
  const c0 = p[4]!, c1 = p[5]!;
  const v0 = p[6]!, v1 = p[7]!;
  const c = p[8]!;
  let gw00 = 0, gw01 = 0, gw10 = 0, gw11 = 0, gc0 = 0, gc1 = 0, gv0 = 0, gv1 = 0, gc = 0;
  let loss = 0;
  for (let i = 0; i < 4; i++) {
    const x0 = x[2 * i]!;
    const x1 = x[2 * i + 1]!;
    const ti = t[i]!;
    const h0 = 1 / (1 + Math.exp(-(x0 * w00 + x1 * w10 + c0)));
    const h1 = 1 / (1 + Math.exp(-(x0 * w01 + x1 * w11 + c1)));
    const z = h0 * v0 + h1 * v1 + c;
    const e = Math.exp(-Math.abs(z));
    loss += (z > 0 ? z : 0) - z * ti + Math.log1p(e);
    // d/dz of the mean BCE: (sigmoid(z) - t) / 4, sigmoid(z) from the same exp(-|z|)
    const s = z >= 0 ? 1 / (1 + e) : e / (1 + e);
    const dz = (s - ti) * 0.25;
    gv0 += dz * h0;
    gv1 += dz * h1;
    gc += dz;
    const dh0 = dz * v0 * h0 * (1 - h0);
    const dh1 = dz * v1 * h1 * (1 - h1);
    gw00 += x0 * dh0;
    gw01 += x0 * dh1;
    gw10 += x1 * dh0;
    gw11 += x1 * dh1;
    gc0 += dh0;
    gc1 += dh1;
  }
  g[0] = gw00; g[1] = gw01; g[2] = gw10; g[3] = gw11;
  g[4] = gc0; g[5] = gc1;
  g[6] = gv0; g[7] = gv1;
  g[8] = gc;
  out[0] = loss * 0.25;
}

/** The lecture network, 2-2-1 on one example: z = sigmoid(x·Wh + bh), y = z·Wo + bo, loss 0.5 (y - t)^2. */
export function lectureStep(p: Float32Array, g: Float32Array, x: Float32Array, t: Float32Array, out: Float64Array): void {
  const x0 = x[0]!, x1 = x[1]!;
  const z0 = 1 / (1 + Math.exp(-(x0 * p[0]! + x1 * p[2]! + p[4]!)));
  const z1 = 1 / (1 + Math.exp(-(x0 * p[1]! + x1 * p[3]! + p[5]!)));
  const wo0 = p[6]!, wo1 = p[7]!;
  const dy = z0 * wo0 + z1 * wo1 + p[8]! - t[0]!;
  const dh0 = dy * wo0 * z0 * (1 - z0);
  const dh1 = dy * wo1 * z1 * (1 - z1);
  g[0] = x0 * dh0; g[1] = x0 * dh1; g[2] = x1 * dh0; g[3] = x1 * dh1;
  g[4] = dh0; g[5] = dh1;
  g[6] = z0 * dy; g[7] = z1 * dy;
  g[8] = dy;
  out[0] = 0.5 * dy * dy;
}
