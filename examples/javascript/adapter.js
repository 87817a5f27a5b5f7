'use strict';
// A twingrad worker (protocol version 1, docs/protocol.md) for the JavaScript engine in
// engine.js. twingrad starts it, writes one JSON request per line to its standard
// input and reads one JSON answer per line from its standard output; twingrad computes
// the torch reference and judges, this file only builds graphs and reports numbers.
//
//   node examples/javascript/adapter.js [path/to/engine.js]
//
// To check your own engine, change the section "Your engine" below; the rest is the
// protocol and should not need editing.
//
// CommonJS rather than ES modules: `require` loads the engine synchronously, so a
// syntax error in it is an exception caught here like any other, and stack traces name
// plain file paths.

const path = require('path');
const fs = require('fs');
const { fileURLToPath } = require('url');

// Standard output belongs to the protocol. Keep the real writer for ourselves, then
// send everything else written there (the engine's console.log, even a direct
// process.stdout.write) to standard error, which twingrad keeps as the worker's log.
const writeToParent = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
console.log = console.info = console.debug = console.error;

// An error's `depth` counts all of its frames; V8 keeps only 10 unless told otherwise.
Error.stackTraceLimit = Infinity;

// ---- Your engine ------------------------------------------------------------------------

// The engine file: the first command-line argument, or engine.js beside this adapter.
const ENGINE_FILE = path.resolve(process.argv[2] || path.join(__dirname, 'engine.js'));
// The name under which the engine file exports its node class (module.exports.Value);
// a file that exports the class itself (module.exports = Value) works too.
const ENGINE_CLASS_NAME = 'Value';

// The engine's own names for each role of docs/protocol.md ("spellings"). A spelling
// sent by twingrad in the load request takes precedence.
const DEFAULT_SPELLINGS = {
  data: 'data',
  grad: 'grad',
  inputs: '_prev',
  op: '_op',
  label: 'label',
  backward: 'backward',
  requires_grad: null,
};

// The method that performs each operation of twingrad's op table.
const OPERATION_METHODS = {
  add: 'add', sub: 'sub', mul: 'mul', div: 'div', pow: 'pow',
  neg: 'neg', abs: 'abs', exp: 'exp', log: 'log', tanh: 'tanh',
  relu: 'relu', sigmoid: 'sigmoid', sin: 'sin', cos: 'cos', sqrt: 'sqrt',
};

// A new leaf holding `number`. Also used for a number on the left of an operation
// (`3 * a` becomes `new Value(3).mul(a)`), since JavaScript has no reflected operators.
function makeLeaf(ValueClass, number) {
  return new ValueClass(number);
}

// `receiver.method(...others)`: a number among `others` is passed as is (the engine
// accepts numbers as the other operand).
function callOperation(receiver, methodName, others) {
  return receiver[methodName](...others);
}

// ---- The protocol -------------------------------------------------------------------------

const PROTOCOL = 1;
const MAX_TEXT = 2000; // the longest string the protocol allows
const MAX_FRAMES = 30;

let engine = null; // { ValueClass, spellings } once loaded

// A step failed in a way the protocol names (`missing`, `returned`, `unreadable`);
// anything else thrown while running a step is reported as `raised`.
class StepFailure extends Error {
  constructor(error) {
    super(error.message);
    this.error = error;
  }
}

// -- strings and numbers --

// `value` as a string of at most MAX_TEXT characters, never splitting a surrogate pair.
function text(value) {
  const whole = describe(value);
  if (whole.length <= MAX_TEXT) return whole;
  let cut = whole.slice(0, MAX_TEXT - 1);
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return cut + '…';
}

// String(value), for anything an engine may throw or return, even a value whose
// toString throws.
function describe(value) {
  if (typeof value === 'string') return value;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// A number of a request: JSON numbers as they are, and the three IEEE values JSON lacks.
function readNumber(encoded) {
  if (typeof encoded === 'number') return encoded;
  if (encoded === 'nan') return NaN;
  if (encoded === 'inf') return Infinity;
  if (encoded === '-inf') return -Infinity;
  throw new TypeError(`not a protocol number: ${text(JSON.stringify(encoded))}`);
}

// A message as one line of JSON. JSON.stringify would write NaN and ±Infinity as null
// and -0 as 0; the protocol wants "nan", "inf", "-inf", and the sign of zero matters
// (torch's relu(-0.0) is -0.0).
function encode(value) {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return '"nan"';
    if (value === Infinity) return '"inf"';
    if (value === -Infinity) return '"-inf"';
    return Object.is(value, -0) ? '-0.0' : JSON.stringify(value);
  }
  if (Array.isArray(value)) return '[' + value.map(encode).join(',') + ']';
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value).filter(([, field]) => field !== undefined);
    return '{' + fields.map(([key, field]) => JSON.stringify(key) + ':' + encode(field)).join(',') + '}';
  }
  return JSON.stringify(value); // strings (escaped to valid JSON), booleans, null
}

function send(message) {
  writeToParent(encode(message) + '\n');
}

// -- where the engine's code is --

// A path as the user would write it: relative to the working directory when inside it.
function shownPath(file) {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

// V8 stack lines: "    at Value.tanh (/dir/engine.js:97:11)" or "    at /dir/engine.js:97:11".
const STACK_LINE = /^\s+at (?:(.+?) \()?(.+?):(\d+):\d+\)?$/;

// The engine's frames of a thrown value, outermost first, as the protocol wants them
// (V8 lists the innermost first). The adapter's own frames and Node's (node:internal,
// native code) are not the engine's and are left out.
function engineFrames(thrown) {
  const stack = thrown !== null && typeof thrown === 'object' && typeof thrown.stack === 'string'
    ? thrown.stack : '';
  const frames = [];
  for (const line of stack.split('\n')) {
    const match = STACK_LINE.exec(line);
    if (!match) continue;
    const [, functionName = '<anonymous>', location, lineNumber] = match;
    const file = location.startsWith('file://') ? fileURLToPath(location) : location;
    if (!path.isAbsolute(file) || file === __filename) continue;
    frames.push({ file: text(shownPath(file)), line: Number(lineNumber), function: text(functionName) });
  }
  // A syntax error has no frame of its own: V8 puts "file:line" on the stack's first line.
  const header = /^(.+):(\d+)\n/.exec(stack);
  if (thrown instanceof SyntaxError && header && path.isAbsolute(header[1])) {
    frames.push({ file: text(shownPath(header[1])), line: Number(header[2]), function: '<module>' });
  }
  frames.reverse();
  return { frames: frames.slice(-MAX_FRAMES), depth: frames.length };
}

function raisedError(thrown) {
  const isError = thrown instanceof Error;
  // A subclass that does not set `name` still reads as "Error"; its class says more.
  let type = isError ? thrown.name : typeof thrown;
  if (isError && type === 'Error' && thrown.constructor && thrown.constructor.name) {
    type = thrown.constructor.name;
  }
  const message = isError ? thrown.message : describe(thrown);
  return { kind: 'raised', type: text(type), message: text(message), ...engineFrames(thrown) };
}

// Where each method and function of the engine file is defined, found by reading its
// text, so the lines stay right as the file changes. A definition is a line that starts
// with `name(...) {` (a method) or `function name(...) {`; a parameter list spread over
// several lines is not recognised. A method of the engine's class that OPERATION_METHODS
// names says which operation it implements (`op`): that is how a report finds the line
// of a wrong operation.
const DEFINITION = /^\s*(?:static\s+)?(?:async\s+)?(?:function\s+)?([A-Za-z_$][\w$]*)\s*\([^)]*\)\s*\{/;
const NOT_A_NAME = new Set(['if', 'for', 'while', 'switch', 'catch', 'with', 'return', 'function']);
const OPERATION_OF_METHOD = new Map(Object.entries(OPERATION_METHODS).map(([op, method]) => [method, op]));

function readDefinitions(sourceText, file, engineClassName) {
  const definitions = [];
  let className = null; // the class whose body we are in, for "Value.tanh"
  let classLine = null;
  sourceText.split('\n').forEach((line, index) => {
    const classStart = /^class\s+([A-Za-z_$][\w$]*)/.exec(line);
    if (classStart) {
      className = classStart[1];
      if (className === engineClassName) classLine = index + 1;
      return;
    }
    if (/^\S/.test(line)) className = null; // anything at column 0 ends the class body
    const match = DEFINITION.exec(line);
    if (!match || NOT_A_NAME.has(match[1])) return;
    const name = match[1];
    const qualified = className ? `${className}.${name}` : name;
    const definition = { name: text(name), file: text(file), line: index + 1, function: text(qualified) };
    const op = className === engineClassName ? OPERATION_OF_METHOD.get(name) : undefined;
    definitions.push(op === undefined ? definition : { ...definition, op });
  });
  return { definitions: definitions.slice(0, 200), classLine };
}

// -- load --

function load(request) {
  const spellings = { ...DEFAULT_SPELLINGS };
  for (const [role, spelling] of Object.entries(request.spellings || {})) {
    if (role in spellings && typeof spelling === 'string') spellings[role] = spelling;
  }
  let ValueClass;
  try {
    const exported = require(ENGINE_FILE);
    ValueClass = typeof exported === 'function' ? exported : exported[ENGINE_CLASS_NAME];
    if (typeof ValueClass !== 'function') {
      throw new TypeError(`${shownPath(ENGINE_FILE)} exports no class named ${ENGINE_CLASS_NAME}`);
    }
  } catch (thrown) {
    return { ok: false, error: raisedError(thrown) };
  }
  engine = { ValueClass, spellings };
  const file = shownPath(ENGINE_FILE);
  const sourceText = fs.readFileSync(ENGINE_FILE, 'utf8');
  const { definitions, classLine } = readDefinitions(sourceText, file, ValueClass.name);
  const source = classLine === null ? null : { file: text(file), line: classLine, function: text(ValueClass.name) };
  return { ok: true, engine: { name: text(ValueClass.name || ENGINE_CLASS_NAME), source, spellings, definitions } };
}

// -- run --

// Runs one program. `ids` gives every engine object met a number of its own, stable for
// the whole program (a Map keys on the object itself, never on its contents).
function runProgram(program, reportProgress) {
  const ids = new Map();
  const idOf = (node) => {
    if (!ids.has(node)) ids.set(node, ids.size);
    return ids.get(node);
  };
  const named = new Map(); // `let` name → engine object
  const made = []; // every object a `let` made, in order: observations must list them all
  const steps = [];
  const observations = [];
  for (const [at, step] of (program.steps || []).entries()) {
    try {
      // Before the steps that can run for long, say where we are, for a timeout's report.
      if ('backward' in step || 'observe' in step) reportProgress(at);
      if ('let' in step) {
        const node = makeNode(step, named);
        named.set(step.let, node);
        made.push(node);
        steps.push({ ok: true, node: idOf(node) });
      } else if ('backward' in step) {
        backward(lookUp(named, step.backward));
        steps.push({ ok: true });
      } else if ('observe' in step) {
        observations.push(observe(lookUp(named, step.observe), made, idOf));
        steps.push({ ok: true });
      } else if ('read' in step) {
        // One node's numbers, no graph: all a passing case needs.
        const node = lookUp(named, step.read);
        steps.push({ ok: true, data: readField(node, 'data'), grad: readField(node, 'grad', true) });
      } else {
        throw new TypeError(`unknown step: ${text(JSON.stringify(step))}`);
      }
    } catch (thrown) {
      steps.push({ ok: false, error: thrown instanceof StepFailure ? thrown.error : raisedError(thrown) });
      break; // the program stops at its first failing step
    }
  }
  return { name: text(program.name), steps, observations };
}

function lookUp(named, name) {
  if (!named.has(name)) throw new ReferenceError(`no earlier let named ${text(JSON.stringify(name))}`);
  return named.get(name);
}

function makeNode(step, named) {
  const { ValueClass, spellings } = engine;
  let node;
  if ('value' in step) {
    node = makeLeaf(ValueClass, readNumber(step.value));
  } else if ('nudged' in step) {
    const source = lookUp(named, step.nudged);
    const data = readField(source, 'data');
    const grad = readField(source, 'grad');
    node = makeLeaf(ValueClass, data + readNumber(step.step) * grad);
  } else {
    return applyOperation(step, named);
  }
  if (step.label !== undefined && spellings.label !== null) node[spellings.label] = step.label;
  if (spellings.requires_grad !== null) node[spellings.requires_grad] = true;
  return node;
}

function applyOperation(step, named) {
  const { ValueClass } = engine;
  const methodName = OPERATION_METHODS[step.apply];
  if (methodName === undefined) throw new TypeError(`unknown operation ${text(JSON.stringify(step.apply))}`);
  const operands = step.args.map((arg) => ('ref' in arg ? lookUp(named, arg.ref) : readNumber(arg.number)));
  const [first, ...others] = operands;
  const receiver = typeof first === 'number' ? makeLeaf(ValueClass, first) : first;
  requireMethod(receiver, methodName);
  const result = callOperation(receiver, methodName, others);
  if (!(result instanceof ValueClass)) {
    const type = result === null ? 'null'
      : typeof result === 'object' && result.constructor ? result.constructor.name : typeof result;
    const error = {
      kind: 'returned', type: text(type),
      message: text(`${methodName}() returned ${text(describeShort(result))}, not a ${ValueClass.name}`),
    };
    if (typeof result === 'number') error.number = result;
    throw new StepFailure(error);
  }
  return result;
}

function describeShort(value) {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // circular or otherwise not JSON: fall back to String()
  }
  return describe(value);
}

function backward(node) {
  const methodName = engine.spellings.backward;
  requireMethod(node, methodName);
  node[methodName]();
}

// An engine without the method is not wrong, only incomplete: `missing` makes the case
// "unsupported" rather than an error.
function requireMethod(node, methodName) {
  if (typeof node[methodName] === 'function') return;
  const type = node.constructor ? node.constructor.name : typeof node;
  throw new StepFailure({
    kind: 'missing', type: text(type), message: text(`${type} has no method ${methodName}()`), name: text(methodName),
  });
}

// `node.data` or `node.grad` (as the engine spells them) as a number. A grad the engine
// does not hold (null or undefined) is null when `allowMissing`.
function readField(node, role, allowMissing = false) {
  const value = node[engine.spellings[role]];
  if (typeof value === 'number') return value;
  if (allowMissing && (value === null || value === undefined)) return null;
  throw new StepFailure({
    kind: 'unreadable', type: text(value === null ? 'null' : typeof value),
    message: text(`${role} (.${engine.spellings[role]}) is not a number: ${describeShort(value)}`),
  });
}

// The nodes a node was made from, in the engine's order, and whether that order means
// anything (a Set's does not).
function readInputs(node) {
  const role = engine.spellings.inputs;
  const collection = role === null ? null : node[role];
  if (collection === null || collection === undefined) return { inputs: [], unordered: false };
  if (typeof collection[Symbol.iterator] !== 'function' || typeof collection === 'string') {
    throw new StepFailure({
      kind: 'unreadable', type: typeof collection,
      message: text(`inputs (.${role}) is not a collection: ${describeShort(collection)}`),
    });
  }
  const inputs = Array.from(collection);
  for (const input of inputs) {
    if (input === null || (typeof input !== 'object' && typeof input !== 'function')) {
      throw new StepFailure({
        kind: 'unreadable', type: input === null ? 'null' : typeof input,
        message: text(`an input (.${role}) is not a node: ${describeShort(input)}`),
      });
    }
  }
  return { inputs, unordered: collection instanceof Set };
}

function readText(node, role) {
  const spelling = engine.spellings[role];
  const value = spelling === null ? null : node[spelling];
  return value === null || value === undefined ? '' : text(value);
}

// The graph reachable from `root`, and from every node a `let` made (a leaf cut off
// from the root still appears, and so do its inputs: no listed node points at an
// unlisted one). An explicit stack, so a deep graph cannot overflow the call stack.
function observe(root, made, idOf) {
  const nodes = [];
  const listed = new Set();
  const stack = [...made].reverse();
  stack.push(root); // on top: the root's graph is walked first
  while (stack.length > 0) {
    const node = stack.pop();
    if (listed.has(node)) continue;
    listed.add(node);
    const { inputs, unordered } = readInputs(node);
    nodes.push({
      id: idOf(node),
      data: readField(node, 'data'),
      grad: readField(node, 'grad', true),
      op: readText(node, 'op'),
      inputs: inputs.map(idOf),
      unordered,
      label: readText(node, 'label'),
    });
    // Reversed, so that the first input is walked first.
    for (let i = inputs.length - 1; i >= 0; i--) stack.push(inputs[i]);
  }
  return { root: idOf(root), nodes };
}

// -- requests --

function answer(request) {
  const reply = (body) => ({ id: request.id, nonce: request.nonce, type: request.type, ...body });
  switch (request.type) {
    case 'hello':
      return reply({
        protocol: PROTOCOL,
        worker: { name: 'twingrad-example-javascript', language: 'javascript', version: process.versions.node },
      });
    case 'load':
      return reply(load(request));
    case 'run': {
      if (engine === null) {
        const loaded = load({});
        // An engine that cannot load fails every program at its first step.
        if (!loaded.ok) {
          const traces = (request.programs || []).map((program) => ({
            name: text(program.name), steps: [{ ok: false, error: loaded.error }], observations: [],
          }));
          return reply({ traces });
        }
      }
      const reportProgress = (at) => send({ id: request.id, nonce: request.nonce, type: 'progress', at });
      return reply({ traces: (request.programs || []).map((program) => runProgram(program, reportProgress)) });
    }
    case 'bye':
      return reply({});
    default:
      return null;
  }
}

let closing = false;

function handleLine(line) {
  if (closing || line.trim() === '') return;
  let request;
  try {
    request = JSON.parse(line);
  } catch (thrown) {
    // Without an id and nonce there is nothing to answer; the log says why.
    console.error(`adapter: not a JSON line (${thrown.message}): ${line.slice(0, 200)}`);
    return;
  }
  let reply;
  try {
    reply = answer(request);
  } catch (thrown) {
    // A request the adapter cannot make sense of (every engine exception is caught
    // inside a step): no valid answer exists, so say why in the log and go on.
    console.error(`adapter: cannot answer request ${JSON.stringify(request.id)}:`, thrown);
    return;
  }
  if (reply === null) {
    console.error(`adapter: unknown request type ${JSON.stringify(request.type)}`);
    return;
  }
  send(reply);
  if (request.type === 'bye') finish();
}

// Exit once every answer has been written: on a pipe that is not synchronous (macOS),
// process.exit() right away could cut the last line.
function finish() {
  closing = true;
  writeToParent('', () => process.exit(0));
}

// Requests arrive in chunks that need not end at a line's end, and a line may span many
// chunks: only the newest chunk is searched for a newline, so a long line costs
// time in proportion to its length.
let partialLine = [];
process.stdin.setEncoding('utf8'); // decodes a character split across two chunks correctly
process.stdin.on('data', (chunk) => {
  let start = 0;
  let newline;
  while ((newline = chunk.indexOf('\n', start)) >= 0) {
    partialLine.push(chunk.slice(start, newline));
    const line = partialLine.join('');
    partialLine = [];
    start = newline + 1;
    handleLine(line);
  }
  if (start < chunk.length) partialLine.push(chunk.slice(start));
});
process.stdin.on('end', () => {
  handleLine(partialLine.join('')); // a last line without its newline
  finish();
});
