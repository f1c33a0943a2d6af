// Syntax and built-ins of current JavaScript that packages ship untranspiled.
class Counter {
  static #instances = 0;
  static {
    Counter.label = "counter";
  }

  #count = 0;

  constructor() {
    Counter.#instances++;
  }

  #bump(by) {
    this.#count += by;
  }

  add(by = 1) {
    this.#bump(by);
    return this;
  }

  get value() {
    return this.#count;
  }

  static isCounter(object) {
    return #count in object;
  }

  static get instances() {
    return Counter.#instances;
  }
}

async function* pages(total) {
  for (let page = 1; page <= total; page++) yield await Promise.resolve(page);
}

export async function modern() {
  const counter = new Counter().add(2).add();
  const settings = { retries: 0, name: null };
  settings.retries ||= 3;
  settings.name ??= "default";
  settings.extra &&= "never";
  const seen = [];
  for await (const page of pages(3)) seen.push(page);
  const { a, ...rest } = { a: 1, b: 2, c: 3 };
  const date = /(?<year>\d{4})-(?<month>\d{2})/d.exec("on 2024-05");
  const words = "Ünïcode wörds, ελληνικά και 日本語".match(/[\p{L}--\p{Script=Latin}]+/gv);
  const cloned = structuredClone({ when: new Date(0), list: [1, [2]] });
  return [
    `${Counter.label} ${counter.value} ${Counter.isCounter(counter)} ${Counter.isCounter({})} ${Counter.instances}`,
    `${settings.retries} ${settings.name} ${settings.extra} ${seen.join(",")} ${a} ${Object.keys(rest)}`,
    `${date.groups.year}/${date.groups.month} ${date.indices.groups.year} ${/(?<=\$)\d+/.exec("$1_000")[0]} ${1_000_000}`,
    `${words.join("|")} ${[3, 1, 2].toSorted().at(-1)} ${[1, 2, 3].findLast((n) => n < 3)}`,
    `${Object.hasOwn(cloned, "when")} ${cloned.when.getTime()} ${new Error("x", { cause: "y" }).cause} ${2n ** 70n}`,
    `${JSON.stringify([1, 2, 3].with(1, 9))} ${"a-b-c".replaceAll("-", "+")}`,
  ].join("\n");
}
