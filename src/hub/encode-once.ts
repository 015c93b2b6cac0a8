// Encodes each delivery (or run) once for all the members of one protocol. The hub
// hands one delivery to every member before the next, so remembering the last one
// encoded is enough: no field on the delivery, no map that could grow.

export class EncodeOnce<K extends object, V> {
  readonly #encode: (key: K) => V;
  #key: K | undefined;
  #value: V | undefined;

  constructor(encode: (key: K) => V) {
    this.#encode = encode;
  }

  get(key: K): V {
    if (key !== this.#key) {
      this.#value = this.#encode(key);
      this.#key = key;
    }
    return this.#value as V;
  }
}
