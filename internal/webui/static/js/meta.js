// Names of exchange and trade condition codes, from Tape's copy of
// Alpaca's reference data (/v2/stocks/meta/exchanges and
// /v2/stocks/meta/conditions/trade?tape=A|B|C), asked for once per page and
// kept. Until they come, or if the REST API is absent, the short built-in
// tables of util.js answer.

import { getMeta } from "./api.js";
import { EXCHANGES, CONDITIONS } from "./util.js";

const TAPES = ["A", "B", "C"];

export class CodeNames {
  constructor() {
    this.exchanges = null; // code -> name
    this.tables = {}; // tape -> code -> description
    this.loading = null;
    this.onLoad = () => {};
  }

  /** Loads the tables once; resolves to true when they came from Tape. */
  load() {
    this.loading ||= (async () => {
      try {
        const [ex, ...conds] = await Promise.all([
          getMeta("v2/stocks/meta/exchanges"),
          ...TAPES.map((t) => getMeta("v2/stocks/meta/conditions/trade?tape=" + t)),
        ]);
        if (ex && typeof ex === "object") this.exchanges = ex;
        TAPES.forEach((t, i) => {
          if (conds[i] && typeof conds[i] === "object") this.tables[t] = conds[i];
        });
        this.onLoad();
        return true;
      } catch {
        return false; // the built-in tables stay
      }
    })();
    return this.loading;
  }

  exchange(code) {
    if (!code) return "";
    return (this.exchanges && this.exchanges[code]) || EXCHANGES[code] || "";
  }

  /** The description of trade condition code on tape (A, B, C; "" if unknown). */
  condition(code, tape) {
    const t = this.tables[tape] || this.tables.C || this.tables.A;
    return (t && t[code]) || CONDITIONS[code] || "";
  }

  /** "Regular Sale, Odd Lot Trade" for codes ["@", "I"]. */
  conditions(codes, tape) {
    return (codes || []).map((c) => this.condition(c, tape) || c).join(", ");
  }
}
