import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterestTable, type AskChange } from './interest.ts';

// Node ids are hex in real life; the table only compares them.
const node = (name: string) => name;

/** Nodes connected by links, passing each ask to the other end until nothing changes. */
class Network {
  readonly tables = new Map<string, InterestTable>();
  /** link id -> [from node, to node]; each direction is its own id. */
  readonly ends = new Map<number, [string, string]>();
  #nextLink = 1;
  readonly queue: Array<{ at: string; change: AskChange }> = [];

  table(name: string): InterestTable {
    let t = this.tables.get(name);
    if (t === undefined) {
      t = new InterestTable(node(name));
      this.tables.set(name, t);
    }
    return t;
  }

  link(a: string, b: string): [number, number] {
    const ab = this.#nextLink++;
    const ba = this.#nextLink++;
    this.ends.set(ab, [a, b]);
    this.ends.set(ba, [b, a]);
    this.#push(a, this.table(a).addLink(ab, node(b)));
    this.#push(b, this.table(b).addLink(ba, node(a)));
    this.settle();
    return [ab, ba];
  }

  cut([ab, ba]: [number, number]): void {
    this.#push(this.ends.get(ab)![0], this.table(this.ends.get(ab)![0]).removeLink(ab));
    this.#push(this.ends.get(ba)![0], this.table(this.ends.get(ba)![0]).removeLink(ba));
    this.ends.delete(ab);
    this.ends.delete(ba);
    this.settle();
  }

  use(name: string, channel: string, used: boolean): void {
    this.#push(name, this.table(name).setUsed(channel, used));
    this.settle();
  }

  #push(at: string, changes: AskChange[]): void {
    for (const change of changes) this.queue.push({ at, change });
  }

  settle(): void {
    for (let steps = 0; this.queue.length > 0; steps++) {
      assert.ok(steps < 10_000, 'interest did not settle');
      const { change } = this.queue.shift()!;
      const ends = this.ends.get(change.link);
      if (ends === undefined) continue;
      const reverse = [...this.ends].find(([, [from, to]]) => from === ends[1] && to === ends[0])![0];
      this.#push(ends[1], this.table(ends[1]).asked(reverse, change.channel, change.want));
    }
  }

  /** Which nodes each node sends the channel to. */
  sends(channel: string): string[] {
    const out: string[] = [];
    for (const [id, [from, to]] of this.ends) if (this.table(from).isAsked(id, channel)) out.push(`${from}->${to}`);
    return out.sort();
  }
}

test('a line: the channel flows only toward the nodes that use it', () => {
  const net = new Network();
  net.link('a', 'b');
  net.link('b', 'c');
  net.link('c', 'd');
  net.use('a', 'x', true);
  assert.deepEqual(net.sends('x'), ['b->a', 'c->b', 'd->c']);
  net.use('d', 'x', true);
  assert.deepEqual(net.sends('x'), ['a->b', 'b->a', 'b->c', 'c->b', 'c->d', 'd->c']);
  net.use('a', 'x', false);
  assert.deepEqual(net.sends('x'), ['a->b', 'b->c', 'c->d']);
  net.use('d', 'x', false);
  assert.deepEqual(net.sends('x'), []);
});

test('rings and triangles let interest die with its last user', () => {
  const net = new Network();
  for (const [a, b] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'a'], ['b', 'd']] as const) net.link(a, b);
  net.use('a', 'x', true);
  assert.ok(net.sends('x').includes('c->b') || net.sends('x').includes('c->d'));
  net.use('c', 'x', true);
  net.use('a', 'x', false);
  net.use('c', 'x', false);
  assert.deepEqual(net.sends('x'), [], 'no interest is left circulating');
});

test('a cut link is routed around, and its interest withdrawn', () => {
  const net = new Network();
  net.link('a', 'b');
  const bc = net.link('b', 'c');
  net.link('c', 'a');
  net.use('c', 'x', true);
  // a and b also ask each other: each may be the other's way to c when a link fails.
  assert.deepEqual(net.sends('x'), ['a->b', 'a->c', 'b->a', 'b->c']);
  net.cut(bc);
  assert.ok(net.sends('x').includes('a->c'));
  assert.ok(net.sends('x').includes('b->a'), 'b reaches c through a');
  net.use('c', 'x', false);
  assert.deepEqual(net.sends('x'), []);
});

test('the first ask of a channel on a link is marked, so the asker sends what it has', () => {
  const table = new InterestTable('me');
  assert.deepEqual(table.addLink(1, 'p'), []);
  assert.deepEqual(table.setUsed('x', true), [{ link: 1, channel: 'x', want: [['me']], first: true }]);
  assert.deepEqual(table.asked(1, 'y', [['p']]), []);
  assert.equal(table.isAsked(1, 'y'), true);
  const second = table.addLink(2, 'q');
  assert.deepEqual(second, [
    { link: 2, channel: 'x', want: [['me']], first: true },
    { link: 2, channel: 'y', want: [['me', 'p']], first: true },
  ]);
  assert.deepEqual(table.setUsed('x', false), [
    { link: 1, channel: 'x', want: [], first: false },
    { link: 2, channel: 'x', want: [], first: false },
  ]);
});

test('interest is not passed on past the longest path a peer accepts', () => {
  const net = new Network();
  const names = Array.from({ length: 40 }, (_, i) => `n${i}`);
  for (let i = 1; i < names.length; i++) net.link(names[i - 1]!, names[i]!);
  net.use('n0', 'x', true);
  const sends = net.sends('x');
  assert.ok(sends.includes('n1->n0'));
  assert.ok(sends.includes('n31->n30'), 'paths of up to 32 nodes are passed on');
  assert.ok(!sends.includes('n33->n32'), 'longer ones are not');
});
