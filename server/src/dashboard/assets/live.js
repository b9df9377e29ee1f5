// New syncs without a reload: a long poll of GET /v1/changes. The relay
// answers as soon as a record in the user's scopes changes (or after about
// 20 seconds with nothing), and the page redraws what it shows.

import { api } from './api.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts polling. `onChange(n)` is called when n records changed;
 * `onStatus(online)` when the connection is lost or back.
 */
export function startLive(onChange, onStatus) {
  let since = null;
  let stopped = false;
  let controller = null;
  addEventListener('pagehide', () => {
    stopped = true;
    controller?.abort();
  });
  (async () => {
    while (!stopped) {
      try {
        controller = new AbortController();
        const path = since === null ? '/v1/changes' : `/v1/changes?since=${since}&wait=20`;
        const asked = Date.now();
        const answer = await api(path, { signal: controller.signal });
        // A feed behind our cursor is a relay restored from a backup: redraw too.
        const changed = since !== null && (answer.changed > 0 || answer.seq < since);
        if (changed) onChange(Math.max(1, answer.changed));
        const first = since === null;
        since = answer.seq;
        onStatus(true);
        // A relay that does not hold the poll (a short request timeout) is
        // asked again after a pause, not at once.
        if (!first && !changed && Date.now() - asked < 2000) await sleep(3000);
      } catch (e) {
        if (stopped || e.name === 'AbortError') return;
        onStatus(false);
        await sleep(5000);
      }
    }
  })();
}
