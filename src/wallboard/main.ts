import { ApiError, currentSession, held, queues, signIn, signOut, type Session } from './api.js';
import { createBoard } from './board.js';
import { timeOfDay } from './format.js';
import { openStream, type StreamState } from './stream.js';
import './wallboard.css';

/**
 * The wallboard (README, "Wallboard"): sign in with a key once, then a snapshot of the queues and
 * the calls on hold, kept current by the event stream, refreshed every 15 s (waits grow, estimates
 * move) and after any gap in the stream; the clocks tick here, every second.
 */
const REFRESH_MS = 15_000;
const RETRY_MS = 2_000;

const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const status = byId('status');
const signInView = byId('sign-in');
const form = byId<HTMLFormElement>('sign-in-form');
const keyInput = byId<HTMLInputElement>('key');
const message = byId('sign-in-message');
const boardView = byId('board');
const who = byId('who');
const board = createBoard({
  queues: byId('queues'),
  noQueues: byId('no-queues'),
  held: byId('held'),
  heldCount: byId('held-count'),
  heldMore: byId('held-more'),
  events: byId('events'),
});

let stream: ReturnType<typeof openStream> | null = null;
let timers: ReturnType<typeof setInterval>[] = [];
let refreshSoon: ReturnType<typeof setTimeout> | undefined;
let retry: ReturnType<typeof setTimeout> | undefined;

const STATUS: Record<StreamState | 'signed-out', string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  'signed-out': 'signed out',
};
function setStatus(s: StreamState | 'signed-out') {
  status.textContent = STATUS[s];
  status.className = `status status-${s}`;
  document.body.dataset.stream = s;
}

async function refresh() {
  try {
    const [q, h] = await Promise.all([queues(), held()]);
    board.snapshot(q, h);
    board.render();
    document.body.dataset.snapshot = String(Date.now());
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showSignIn('Your session has ended. Sign in again.');
    // Otherwise the API is away: the stream's reconnection brings a refresh when it is back.
  }
}

/** Queue events change what only the API computes (estimates, service level): read it again shortly. */
function refreshShortly() {
  refreshSoon ??= setTimeout(() => {
    refreshSoon = undefined;
    void refresh();
  }, 1000);
}

/** The browser gave up on the stream: start a new one once the API answers, unless the session is over. */
function reconnectLater() {
  clearTimeout(retry);
  retry = setTimeout(() => {
    currentSession().then(
      () => stream?.reopen(),
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 401) showSignIn('Your session has ended. Sign in again.');
        else reconnectLater();
      },
    );
  }, RETRY_MS);
}

function stop() {
  stream?.close();
  stream = null;
  for (const t of timers) clearInterval(t);
  timers = [];
  clearTimeout(refreshSoon);
  refreshSoon = undefined;
  clearTimeout(retry);
  board.clear();
  board.render();
}

function showBoard(session: Session) {
  stop();
  signInView.hidden = true;
  boardView.hidden = false;
  who.hidden = false;
  byId('who-name').textContent = `${session.client} · ${session.account}`;
  stream = openStream({
    event(e) {
      board.apply(e);
      board.render();
      if (e.type.startsWith('queue.')) refreshShortly();
    },
    stale: () => void refresh(),
    state: setStatus,
    closed: reconnectLater,
  });
  timers.push(
    setInterval(() => board.render(), 1000),
    setInterval(() => void refresh(), REFRESH_MS),
  );
}

function showSignIn(text = '') {
  stop();
  setStatus('signed-out');
  boardView.hidden = true;
  who.hidden = true;
  signInView.hidden = false;
  message.textContent = text;
  keyInput.focus();
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const button = form.querySelector('button')!;
  button.disabled = true;
  message.textContent = '';
  signIn(keyInput.value)
    .then((session) => {
      keyInput.value = '';
      showBoard(session);
    })
    .catch((err: unknown) => {
      message.textContent =
        err instanceof ApiError
          ? err.status === 401
            ? 'That key is not valid.'
            : err.status === 429
              ? 'Too many wrong keys. Wait a minute, then try again.'
              : err.message
          : 'holdq cannot be reached.';
      keyInput.select();
    })
    .finally(() => {
      button.disabled = false;
    });
});

byId('sign-out').addEventListener('click', () => {
  signOut().then(
    () => showSignIn('Signed out.'),
    (err: unknown) =>
      showSignIn(
        err instanceof ApiError ? 'Signed out.' : 'Signed out here; holdq could not be reached to end the session.',
      ),
  );
});

const clock = byId('clock');
const tick = () => (clock.textContent = timeOfDay(Date.now()));
tick();
setInterval(tick, 1000);

currentSession().then(showBoard, (err: unknown) =>
  showSignIn(err instanceof ApiError ? '' : 'holdq cannot be reached.'),
);
