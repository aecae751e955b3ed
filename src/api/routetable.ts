/**
 * A small path router: static segments, `:name` parameters and a trailing `*`.
 * Written instead of using find-my-way, which added ~10 MiB to pierd's resident memory
 * (idle RSS is a benchmark target) for features the Docker API does not need.
 * Static segments win over parameters, which win over `*`, so /containers/json never
 * matches /containers/:id.
 */
export interface Match<H> {
  handler: H;
  params: Record<string, string>;
}

interface Node<H> {
  statics: Map<string, Node<H>>;
  param?: { name: string; node: Node<H> };
  wildcard?: Map<string, H>;
  handlers: Map<string, H>;
}

const newNode = <H>(): Node<H> => ({ statics: new Map(), handlers: new Map() });

export class RouteTable<H> {
  private readonly root: Node<H> = newNode();

  add(method: string, path: string, handler: H): void {
    let node = this.root;
    const segs = split(path);
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      if (seg === "*") {
        if (i !== segs.length - 1) throw new Error(`"*" must end the route: ${path}`);
        node.wildcard ??= new Map();
        node.wildcard.set(method, handler);
        return;
      }
      if (seg.startsWith(":")) {
        const name = seg.slice(1);
        if (node.param && node.param.name !== name) throw new Error(`conflicting parameter names at ${path}`);
        node.param ??= { name, node: newNode() };
        node = node.param.node;
      } else {
        let next = node.statics.get(seg);
        if (!next) node.statics.set(seg, (next = newNode()));
        node = next;
      }
    }
    node.handlers.set(method, handler);
  }

  find(method: string, path: string): Match<H> | undefined {
    const params: Record<string, string> = {};
    const h = this.walk(this.root, split(path), 0, method, params);
    return h === undefined ? undefined : { handler: h, params };
  }

  /** True when some other method is routed at this path (the answer is then 405). */
  hasPath(path: string): boolean {
    const segs = split(path);
    return ["GET", "HEAD", "POST", "PUT", "DELETE"].some((m) => this.walk(this.root, segs, 0, m, {}) !== undefined);
  }

  private walk(node: Node<H>, segs: string[], i: number, method: string, params: Record<string, string>): H | undefined {
    if (i === segs.length) {
      const h = node.handlers.get(method);
      if (h !== undefined) return h;
    } else {
      const seg = segs[i]!;
      const stat = node.statics.get(seg);
      if (stat) {
        const h = this.walk(stat, segs, i + 1, method, params);
        if (h !== undefined) return h;
      }
      if (node.param) {
        const h = this.walk(node.param.node, segs, i + 1, method, params);
        if (h !== undefined) {
          params[node.param.name] = seg;
          return h;
        }
      }
    }
    const w = node.wildcard?.get(method);
    if (w !== undefined && i < segs.length) {
      params["*"] = segs.slice(i).join("/");
      return w;
    }
    return undefined;
  }
}

/** "/a/b/" → ["a","b"]; a trailing slash is ignored, as Docker's router does. */
function split(path: string): string[] {
  const segs = path.split("/");
  const out: string[] = [];
  for (const s of segs) if (s !== "") out.push(s);
  return out;
}
