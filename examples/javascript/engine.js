'use strict';
// A micrograd-style scalar autograd engine in plain JavaScript (Node 20, no dependencies).
//
// A Value holds a number (`data`), the derivative of some output with respect to it
// (`grad`), the nodes it was computed from (`_prev`, in order, duplicates kept so that
// `a.mul(a)` has two edges), the text of the operation that made it (`_op`) and a `label`.
//
// JavaScript has no operator overloading, so operations are methods: `a.mul(b)`,
// `a.add(3)`. A plain number is accepted as the other operand; for a number on the left,
// write `new Value(3).mul(a)`.
//
// Every operation is its own node, even `sub` and `div`, which micrograd composes from
// others: one node per operation keeps the graph the same shape as torch's, so a checker
// can compare them node by node. The symbols (`'+'`, `'*'`, `'tanh'` ...) are twingrad's.
//
// Numbers follow IEEE-754 as torch does: 1/0 is Infinity, log(0) is -Infinity, log(-1)
// is NaN. Derivatives at kinks are torch's: relu'(0) = 0 and |x|'(0) = 0.

class Value {
  constructor(data, label = '', _prev = [], _op = '') {
    this.data = data;
    this.grad = 0;
    this.label = label;
    this._prev = _prev;
    this._op = _op;
    // Adds this node's gradient into its inputs' grads; a leaf has nothing to pass on.
    this._backward = () => {};
  }

  // A new node computed from `inputs`. `passGradient(g)` receives the node's gradient
  // and adds each input's share to that input's grad (`+=`, so a reused input collects
  // one share per use).
  static _result(data, inputs, op, passGradient) {
    const out = new Value(data, '', inputs, op);
    out._backward = () => passGradient(out.grad);
    return out;
  }

  // -- binary operations: the other operand may be a Value or a plain number ----------

  add(other) {
    other = asValue(other);
    return Value._result(this.data + other.data, [this, other], '+', (g) => {
      this.grad += g;
      other.grad += g;
    });
  }

  sub(other) {
    other = asValue(other);
    return Value._result(this.data - other.data, [this, other], '-', (g) => {
      this.grad += g;
      other.grad += -g;
    });
  }

  mul(other) {
    other = asValue(other);
    return Value._result(this.data * other.data, [this, other], '*', (g) => {
      this.grad += g * other.data;
      other.grad += g * this.data;
    });
  }

  div(other) {
    other = asValue(other);
    const a = this.data;
    const b = other.data;
    return Value._result(a / b, [this, other], '/', (g) => {
      this.grad += g / b;
      // -g·(a/b)/b, in torch's order of operations, rather than -g·a/b².
      other.grad += -g * (a / b / b);
    });
  }

  pow(other) {
    other = asValue(other);
    const a = this.data;
    const b = other.data;
    const out = cPow(a, b);
    return Value._result(out, [this, other], '**', (g) => {
      // torch gives exactly 0 for a zero exponent, even where a ** -1 is infinite.
      this.grad += b === 0 ? 0 : g * (b * cPow(a, b - 1));
      // d/db = out·log(a); torch masks it to 0 where a == 0 and b >= 0 (log(0) = -inf).
      other.grad += g * (a === 0 && b >= 0 ? 0 : out * Math.log(a));
    });
  }

  // -- unary operations -----------------------------------------------------------------

  neg() {
    return Value._result(-this.data, [this], 'neg', (g) => {
      this.grad += -g;
    });
  }

  abs() {
    const x = this.data;
    return Value._result(Math.abs(x), [this], 'abs', (g) => {
      // sign(x), with sign(0) = 0 (torch's |x|'(0)) and sign(NaN) = 0 (Math.sign gives NaN).
      this.grad += g * ((x > 0) - (x < 0));
    });
  }

  exp() {
    const out = Math.exp(this.data);
    return Value._result(out, [this], 'exp', (g) => {
      this.grad += g * out;
    });
  }

  log() {
    const x = this.data;
    return Value._result(Math.log(x), [this], 'log', (g) => {
      this.grad += g / x;
    });
  }

  tanh() {
    const t = Math.tanh(this.data);
    return Value._result(t, [this], 'tanh', (g) => {
      // (1 - t)(1 + t) rather than 1 - t²: it stays within an ULP of torch where 1 - t² cancels.
      this.grad += g * ((1 - t) * (1 + t));
    });
  }

  relu() {
    const x = this.data;
    // `x < 0` is false for NaN and -0, which pass through unchanged, as in torch.
    const out = x < 0 ? 0 : x;
    return Value._result(out, [this], 'relu', (g) => {
      // `<=`: relu'(0) = 0, torch's convention. NaN <= 0 is false, so NaN passes g on.
      this.grad += out <= 0 ? 0 : g;
    });
  }

  sigmoid() {
    // exp(1000) is Infinity and 1/(1 + Infinity) is the right 0: no overflow to guard.
    const out = 1 / (1 + Math.exp(-this.data));
    return Value._result(out, [this], 'sigmoid', (g) => {
      this.grad += g * (1 - out) * out;
    });
  }

  sin() {
    const x = this.data;
    return Value._result(Math.sin(x), [this], 'sin', (g) => {
      this.grad += g * Math.cos(x);
    });
  }

  cos() {
    const x = this.data;
    return Value._result(Math.cos(x), [this], 'cos', (g) => {
      this.grad += g * -Math.sin(x);
    });
  }

  sqrt() {
    const out = Math.sqrt(this.data);
    return Value._result(out, [this], 'sqrt', (g) => {
      // Infinity at 0: the slope of √x there is vertical.
      this.grad += g / (2 * out);
    });
  }

  // -- backpropagation -------------------------------------------------------------------

  // Adds d(this)/d(node) to every node's grad. Each call is a fresh pass: gradients
  // already held are set aside, this call's gradient propagates alone, and then the two
  // are added. (Propagating the held grads again, as micrograd does, would count the
  // first call twice in every node below an intermediate.)
  backward() {
    const order = topologicalOrder(this);
    const earlier = order.map((node) => node.grad);
    for (const node of order) node.grad = 0;
    this.grad = 1;
    // Reverse topological order: a node passes its gradient on only once every
    // consumer has added its share.
    for (let i = order.length - 1; i >= 0; i--) order[i]._backward();
    order.forEach((node, i) => {
      // Skip zeros: adding +0 would turn a fresh gradient of -0 into +0.
      if (earlier[i] !== 0) node.grad += earlier[i];
    });
  }
}

// Every node reachable from `root`, each after all of its inputs; `root` comes last.
// An explicit stack rather than recursion, so a chain of a million nodes cannot
// overflow the call stack.
function topologicalOrder(root) {
  const order = [];
  const done = new Set();
  const stack = [[root, 0]]; // a node and the index of the next input to visit
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, next] = top;
    if (next < node._prev.length) {
      top[1] = next + 1;
      const input = node._prev[next];
      // An input reached before (a diamond, or `a.mul(a)`) is visited once.
      if (!done.has(input)) stack.push([input, 0]);
    } else {
      stack.pop();
      done.add(node);
      order.push(node);
    }
  }
  return order;
}

function asValue(x) {
  return x instanceof Value ? x : new Value(x);
}

// a ** b as C's pow(), which torch uses. JavaScript's `**` differs only where the base
// is 1 or -1 and the exponent is infinite or NaN: C says 1, JavaScript says NaN.
function cPow(a, b) {
  if (a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return a ** b;
}

module.exports = { Value, topologicalOrder };
