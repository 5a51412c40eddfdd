/** What the passes after autodiff work on: the model plus its gradient roots, all in one IR. */
import type { Node } from "./graph.ts";
import type { Leaf, Model } from "./model.ts";

export interface Contribution {
  /** The primal node whose rule produced the contribution. */
  readonly consumer: Node;
  /** Which input of `consumer` it flows to. */
  readonly index: number;
  readonly value: Node;
}

/** Where a gradient node comes from: `node`'s derivative rule, or (fanIn) the sum of the contributions of `node`'s uses. */
export interface Origin {
  readonly node: Node;
  readonly fanIn?: true;
  /** The spec's own rule that built it: the custom box's name (`m.custom`). */
  readonly rule?: string;
}

export interface Program {
  readonly model: Model;
  readonly loss?: Node;
  readonly outputs: readonly { readonly name: string; readonly node: Node }[];
  /** d loss / d param, one per param, in the model's param order. */
  readonly grads: readonly { readonly param: Leaf; readonly node: Node }[];
  /** Primal node id -> its adjoint (the sum of its contributions). */
  readonly adjoints: ReadonlyMap<number, Node>;
  readonly contributions: readonly Contribution[];
  /** Node id -> the primal node whose derivative rule built it, or whose uses' contributions it sums (for comments in emitted code). */
  readonly origin: ReadonlyMap<number, Origin>;
  /** Forward node id -> the named node whose adjoint it also is (halfSquare's residual y - t is ∂loss/∂y), for comments. */
  readonly adjointOf?: ReadonlyMap<number, string>;
  /** Forward node id -> the `m.custom` box whose value it is (the box itself is erased by simplify), for comments. */
  readonly boxes?: ReadonlyMap<number, string>;
  /** Node id -> readable name (spec names, and `d_<name>` for their adjoints). */
  readonly names: ReadonlyMap<number, string>;
}
