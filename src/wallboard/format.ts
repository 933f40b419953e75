/** How the board writes times and shares: short, the same width from one second to the next. */

/** 0:07, 4:05, 1:02:09; "–" for no value. */
export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** 0.834 → "83 %"; null → "–". */
export function percent(ratio: number | null): string {
  return ratio === null ? '–' : `${Math.round(ratio * 100)} %`;
}

/** The time of day of an ISO time, HH:MM:SS in the browser's zone. */
export function timeOfDay(iso: string | number): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour12: false });
}
