/** Plain SGD, p -= lr * g: the one update loop that gradc's and the hand-written steps both use. */
export function sgd(p: Float32Array, g: Float32Array, lr: number): void {
  for (let i = 0; i < p.length; i++) p[i] -= lr * g[i]!;
}
