// The network tests' guest: fetch(argv[1]) through wasi:http and print what came back.
import { getArguments } from "wasi:cli/environment@0.2.12";

export const run = {
  async run() {
    const url = getArguments()[1];
    try {
      const response = await fetch(url);
      console.log(`fetched ${url}: ${response.status} ${(await response.text()).trim()}`);
    } catch (err) {
      console.log(`fetch ${url} failed: ${err}`);
    }
  },
};
