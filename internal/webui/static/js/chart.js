// The candlestick chart: TradingView's lightweight-charts (a candlestick
// series and a volume histogram), fed from a CandleBook once per animation
// frame. Without the library (a binary built before scripts/build-web.sh)
// it shows the "chart library not built" notice and does nothing else.

import { fmtTimeNY, fmtDateNY, nyOffset } from "./util.js";

const SHOW = 120; // candles in view after a load

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class ChartView {
  constructor(box, missingNotice) {
    this.box = box;
    this.lib = window.LightweightCharts;
    this.chart = null;
    this.lastTime = -Infinity;
    this.daily = false;
    if (!this.lib || typeof this.lib.createChart !== "function") {
      this.lib = null;
      missingNotice.hidden = false;
      box.hidden = true;
      return;
    }
    const L = this.lib;
    const timeLabel = (t) => (this.daily ? fmtDateNY(t * 1000) : fmtDateNY(t * 1000) + " " + fmtTimeNY(t * 1000).slice(0, 5));
    this.chart = L.createChart(box, {
      autoSize: true,
      layout: { attributionLogo: true, fontFamily: getComputedStyle(document.body).fontFamily },
      localization: { timeFormatter: timeLabel },
      timeScale: {
        timeVisible: true, secondsVisible: false, rightOffset: 4, maxBarSpacing: 24,
        // Ticks in New York time: the chart's own labels would be UTC.
        tickMarkFormatter: (t, type) => {
          const ms = t * 1000, local = new Date(ms + nyOffset(ms));
          switch (type) {
            case L.TickMarkType.Year: return String(local.getUTCFullYear());
            case L.TickMarkType.Month: return local.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
            case L.TickMarkType.DayOfMonth: return String(local.getUTCDate());
            default: return this.daily ? fmtDateNY(ms).slice(5) : fmtTimeNY(ms).slice(0, 5);
          }
        },
      },
      crosshair: { mode: L.CrosshairMode.Normal },
    });
    this.candles = this.chart.addSeries(L.CandlestickSeries, { priceLineVisible: true });
    this.volume = this.chart.addSeries(L.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "", lastValueVisible: false, priceLineVisible: false });
    this.volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    this.applyTheme();
  }

  get ok() { return this.chart !== null; }

  applyTheme() {
    if (!this.chart) return;
    const up = css("--up"), down = css("--down");
    this.upVol = css("--up-vol");
    this.downVol = css("--down-vol");
    this.chart.applyOptions({
      layout: { background: { type: "solid", color: css("--panel") }, textColor: css("--muted") },
      grid: { vertLines: { color: css("--grid") }, horzLines: { color: css("--grid") } },
      rightPriceScale: { borderColor: css("--border") },
      timeScale: { borderColor: css("--border") },
    });
    this.candles.applyOptions({ upColor: up, downColor: down, borderUpColor: up, borderDownColor: down, wickUpColor: up, wickDownColor: down });
    // Volume bars carry their colours: the caller reloads the data.
  }

  vol(c) {
    return { time: c.time, value: c.volume, color: c.close >= c.open ? this.upVol : this.downVol };
  }

  /** Takes a CandleBook drain result. */
  apply(d, daily) {
    if (!this.chart || !d) return;
    if (this.daily !== daily) {
      this.daily = daily;
      this.chart.applyOptions({ timeScale: { timeVisible: !daily } });
    }
    if (d.reset) {
      this.candles.setData(d.candles);
      this.volume.setData(d.candles.map((c) => this.vol(c)));
      const n = d.candles.length;
      this.lastTime = n ? d.candles[n - 1].time : -Infinity;
      if (d.fit && n) {
        // A fresh load shows the newest SHOW candles, or all if fewer.
        const ts = this.chart.timeScale();
        if (n <= SHOW) ts.fitContent();
        else ts.setVisibleLogicalRange({ from: n - SHOW, to: n + 3 });
      }
      return;
    }
    for (const c of d.candles) {
      const historical = c.time < this.lastTime;
      this.candles.update(c, historical);
      this.volume.update(this.vol(c), historical);
      if (c.time > this.lastTime) this.lastTime = c.time;
    }
  }

  /** Clears the chart (a new symbol or timeframe is loading). */
  clear() {
    if (!this.chart) return;
    this.candles.setData([]);
    this.volume.setData([]);
    this.lastTime = -Infinity;
  }
}
