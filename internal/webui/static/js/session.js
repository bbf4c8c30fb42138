// The market session at a moment, from Alpaca's calendar (/v2/calendar:
// per trading day its regular open and close and the extended session's
// bounds) or, without one, from the clock (/v2/clock). Pure functions, in
// New York time; the page shows the result in its header.
//
//   open       Regular session · closes 16:00
//   pre        Pre-market · opens 09:30
//   post       After hours · until 20:00
//   overnight  Overnight · pre-market 04:00   (20:00 to 04:00 before a trading day)
//   closed     Closed · opens Mon 09:30       (weekends, holidays, the night before them)

import { nyOffset, fmtTimeNY } from "./util.js";

const OVERNIGHT_MS = 8 * 3600000; // 20:00 to 04:00

/** Epoch ms of New York local date "YYYY-MM-DD" at "HH:MM" or "HHMM". */
export function nyDateTime(date, hhmm) {
  const [y, mo, d] = date.split("-").map(Number);
  const t = String(hhmm).replace(":", "");
  const local = Date.UTC(y, mo - 1, d, Number(t.slice(0, 2)), Number(t.slice(2, 4)));
  // The offset at local time read as UTC is right except within hours of a
  // DST change; a second pass settles it.
  let ms = local - nyOffset(local);
  ms = local - nyOffset(ms);
  return ms;
}

/** Calendar entries ({date, open, close, session_open, session_close}) as epoch-ms bounds, by date. */
export function calendarDays(entries) {
  return entries
    .filter((e) => e && /^\d{4}-\d{2}-\d{2}$/.test(e.date) && e.open && e.close)
    .map((e) => ({
      date: e.date,
      open: nyDateTime(e.date, e.open),
      close: nyDateTime(e.date, e.close),
      pre: nyDateTime(e.date, e.session_open || e.open),
      post: nyDateTime(e.date, e.session_close || e.close),
    }))
    .sort((a, b) => a.open - b.open);
}

const hm = (ms) => fmtTimeNY(ms).slice(0, 5);
const weekday = (ms) => new Date(ms).toLocaleDateString("en-US", { weekday: "short", timeZone: "America/New_York" });
const monthDay = (ms) => new Date(ms).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "America/New_York" });

/** "Mon 09:30" within a week of now, "Jan 2 09:30" beyond. */
function when(ms, now) {
  return (ms - now < 6 * 86400000 ? weekday(ms) : monthDay(ms)) + " " + hm(ms);
}

/**
 * The session at now (epoch ms) given calendarDays(...) covering it:
 * {state, name, detail}, or null when the calendar does not reach far
 * enough (no trading day after now).
 */
export function marketSession(now, days) {
  for (const d of days) {
    if (now >= d.open && now < d.close) return { state: "open", name: "Regular session", detail: "closes " + hm(d.close) };
    if (now >= d.pre && now < d.open) return { state: "pre", name: "Pre-market", detail: "opens " + hm(d.open) };
    if (now >= d.close && now < d.post) return { state: "post", name: "After hours", detail: "until " + hm(d.post) };
  }
  const next = days.find((d) => d.pre > now);
  if (!next) return null;
  if (next.pre - now <= OVERNIGHT_MS) return { state: "overnight", name: "Overnight", detail: "pre-market " + hm(next.pre) };
  return { state: "closed", name: "Closed", detail: "opens " + when(next.open, now) };
}

/** The session from /v2/clock alone ({timestamp, is_open, next_open, next_close}): open or closed. */
export function clockSession(clock) {
  const now = Date.parse(clock.timestamp);
  if (clock.is_open) return { state: "open", name: "Regular session", detail: "closes " + hm(Date.parse(clock.next_close)) };
  return { state: "closed", name: "Closed", detail: "opens " + when(Date.parse(clock.next_open), now) };
}
