/**
 * A small typed helper for writing ONNX models from TypeScript: declare inputs, outputs,
 * initializers and nodes, then serialise a ModelProto that onnxruntime can load from bytes.
 * Used to build the Universal Sentence Encoder graph from its TF.js weights at start-up, and by
 * tests that need tiny models without Python or committed `.onnx` files.
 */
import { endianness } from 'node:os';
import type { onnx as Onnx } from 'onnx-proto';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Element types this builder can declare (ONNX `TensorProto.DataType`). */
export type OnnxDataType = 'float32' | 'int32' | 'int64' | 'bool';

const DATA_TYPES: Record<OnnxDataType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** The typed array holding each element type's data. */
export interface OnnxTypedArrays {
  float32: Float32Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

/** A dimension: a fixed size, or a symbolic name such as `'batch'` for a dynamic one. */
export type Dim = number | string;

/** Marks a number (or list) as a FLOAT attribute even when it is integral, e.g. `float(1)`. */
export interface FloatAttr {
  readonly kind: 'float';
  readonly value: number | readonly number[];
}
export const float = (value: number | readonly number[]): FloatAttr => ({ kind: 'float', value });

/**
 * An attribute value. Integral numbers become INT, other numbers FLOAT, arrays INTS / FLOATS the
 * same way (wrap with {@link float} to force floats), strings STRING.
 */
export type AttrValue = number | readonly number[] | string | FloatAttr;

export interface ModelOptions {
  /** Default opset of the `ai.onnx` domain; 17 (LayerNormalization) unless told otherwise. */
  opset?: number;
  /** Extra operator-set imports, e.g. `{ 'com.microsoft': 1 }`. */
  domains?: Record<string, number>;
  /** ONNX IR version; 8 by default (what opset 17 pairs with). */
  irVersion?: number;
  producerName?: string;
  docString?: string;
}

let littleEndianChecked = false;

/** Builds one ONNX graph; every value is referred to by its (unique) name. */
export class GraphBuilder {
  readonly name: string;
  readonly #inputs: Onnx.IValueInfoProto[] = [];
  readonly #outputs: Onnx.IValueInfoProto[] = [];
  readonly #initializers: Onnx.ITensorProto[] = [];
  readonly #nodes: Onnx.INodeProto[] = [];
  readonly #names = new Set<string>();
  readonly #counters = new Map<string, number>();

  constructor(name = 'graph') {
    this.name = name;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, type: OnnxDataType, dims: readonly Dim[]): string {
    this.#claim(name);
    this.#inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares `value` (an existing name) as a graph output; `dims` may use symbolic names. */
  output(value: string, type: OnnxDataType, dims: readonly Dim[]): string {
    if (!this.#names.has(value)) throw new Error(`graph output ${value} is not produced by any node or input`);
    this.#outputs.push(valueInfo(value, type, dims));
    return value;
  }

  /** Adds a constant tensor (weights) and returns its name. The data is copied. */
  initializer<T extends OnnxDataType>(
    name: string,
    type: T,
    dims: readonly number[],
    data: OnnxTypedArrays[T],
  ): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) {
      throw new Error(`initializer ${name}: ${data.length} values for shape [${dims.join(', ')}] (${size})`);
    }
    this.#claim(name);
    this.#initializers.push({ name, dataType: DATA_TYPES[type], dims: [...dims], rawData: rawBytes(data) });
    return name;
  }

  /** A float32 constant with an auto-generated name. */
  constFloat(values: number | readonly number[], dims?: readonly number[]): string {
    const data = Float32Array.from(typeof values === 'number' ? [values] : values);
    return this.initializer(
      this.fresh('const_f'),
      'float32',
      dims ?? (typeof values === 'number' ? [] : [data.length]),
      data,
    );
  }

  /** An int64 constant with an auto-generated name (shapes, axes, split sizes, indices). */
  constInt64(values: number | readonly number[], dims?: readonly number[]): string {
    const list = typeof values === 'number' ? [values] : values;
    const data = BigInt64Array.from(list, (v) => BigInt(v));
    return this.initializer(
      this.fresh('const_i'),
      'int64',
      dims ?? (typeof values === 'number' ? [] : [data.length]),
      data,
    );
  }

  /**
   * Adds a node. `outputs` is a list of names or a count of outputs to name automatically;
   * returns the output names.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attributes: Record<string, AttrValue> = {},
    options: { name?: string; domain?: string } = {},
  ): string[] {
    for (const input of inputs) {
      if (input !== '' && !this.#names.has(input)) throw new Error(`${opType}: unknown input ${input}`);
    }
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType)) : [...outputs];
    for (const out of outs) this.#claim(out);
    this.#nodes.push({
      opType,
      domain: options.domain ?? '',
      name: options.name ?? this.fresh(`${opType}_node`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return outs;
  }

  /** A single-output node; returns the output's name. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttrValue> = {},
    outputName?: string,
  ): string {
    return this.node(opType, inputs, outputName === undefined ? 1 : [outputName], attributes)[0] as string;
  }

  /** A new unique value name starting with `prefix`. */
  fresh(prefix: string): string {
    let n = this.#counters.get(prefix) ?? 0;
    let name: string;
    do name = `${prefix}_${n++}`;
    while (this.#names.has(name));
    this.#counters.set(prefix, n);
    return name;
  }

  /** The GraphProto as a plain object. */
  graph(): Onnx.IGraphProto {
    return {
      name: this.name,
      input: this.#inputs,
      output: this.#outputs,
      initializer: this.#initializers,
      node: this.#nodes,
    };
  }

  /** Serialises a ModelProto (protobuf bytes) for `InferenceSession.create(bytes)`. */
  toBytes(options: ModelOptions = {}): Uint8Array {
    if (this.#outputs.length === 0) throw new Error('graph has no outputs');
    const opsetImport = [
      { domain: '', version: options.opset ?? 17 },
      ...Object.entries(options.domains ?? {}).map(([domain, version]) => ({ domain, version })),
    ];
    const model = onnx.ModelProto.create({
      irVersion: options.irVersion ?? 8,
      producerName: options.producerName ?? 'engram',
      docString: options.docString ?? '',
      opsetImport,
      graph: this.graph(),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  #claim(name: string): void {
    if (name === '') throw new Error('value names must not be empty');
    if (this.#names.has(name)) throw new Error(`duplicate value name ${name}`);
    this.#names.add(name);
  }
}

function valueInfo(name: string, type: OnnxDataType, dims: readonly Dim[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPES[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttrValue): Onnx.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { name, type: AttributeType.INT, i: value }
      : { name, type: AttributeType.FLOAT, f: value };
  }
  if (isFloatAttr(value)) {
    const v = value.value;
    return typeof v === 'number'
      ? { name, type: AttributeType.FLOAT, f: v }
      : { name, type: AttributeType.FLOATS, floats: [...v] };
  }
  return value.every(Number.isInteger)
    ? { name, type: AttributeType.INTS, ints: [...value] }
    : { name, type: AttributeType.FLOATS, floats: [...value] };
}

function isFloatAttr(value: AttrValue): value is FloatAttr {
  return typeof value === 'object' && 'kind' in value;
}

/** ONNX raw_data is little-endian; typed arrays use the host's order, so insist on LE hosts. */
function rawBytes(data: Float32Array | Int32Array | BigInt64Array | Uint8Array): Uint8Array {
  if (!littleEndianChecked) {
    if (endianness() !== 'LE') throw new Error('building ONNX tensors needs a little-endian host');
    littleEndianChecked = true;
  }
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}
