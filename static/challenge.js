// The delist form's proof of work (the ALTCHA protocol, version 1), solved with WebCrypto.
//
// The server signs a challenge: the SHA-256 of a salt followed by a secret number
// no larger than `maxnumber`. The browser finds that number by trying them in
// order and sends it with the form, in the hidden field. It runs by itself when
// the page opens: nobody has anything to look at, click or listen to, and no
// other site is contacted. Texts come from the page, in the page's language.
"use strict";

(() => {
  const box = document.querySelector(".challenge[data-challenge]");
  if (!box) {
    return;
  }
  const form = box.closest("form");
  const field = box.querySelector('input[type="hidden"]');
  const status = box.querySelector(".challenge-status");
  const BATCH = 500; // digests in flight at once
  const REFRESH_AFTER_MS = 10 * 60 * 1000; // the server accepts a challenge for 20 minutes

  const say = (text) => {
    status.textContent = text;
  };

  if (!(window.crypto && crypto.subtle && window.TextEncoder && window.fetch)) {
    say(box.dataset.failed);
    return;
  }

  const encoder = new TextEncoder();

  const hexToBytes = (hex) => {
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i += 1) {
      bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
    }
    return bytes;
  };

  const sameBytes = (buffer, expected) => {
    const actual = new Uint8Array(buffer);
    if (actual.length !== expected.length) {
      return false;
    }
    for (let i = 0; i < actual.length; i += 1) {
      if (actual[i] !== expected[i]) {
        return false;
      }
    }
    return true;
  };

  // The number n in 0..maxnumber with SHA-256(salt + n) == challenge.
  const findNumber = async (challenge) => {
    const target = hexToBytes(challenge.challenge);
    for (let start = 0; start <= challenge.maxnumber; start += BATCH) {
      const end = Math.min(start + BATCH, challenge.maxnumber + 1);
      const digests = [];
      for (let n = start; n < end; n += 1) {
        digests.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + n)));
      }
      const results = await Promise.all(digests);
      const found = results.findIndex((digest) => sameBytes(digest, target));
      if (found >= 0) {
        return start + found;
      }
    }
    throw new Error("the challenge has no solution");
  };

  const solve = async (challenge) => {
    const number = await findNumber(challenge);
    return btoa(
      JSON.stringify({
        algorithm: challenge.algorithm,
        challenge: challenge.challenge,
        number,
        salt: challenge.salt,
        signature: challenge.signature,
      }),
    );
  };

  let current = null; // { started, solution: Promise<string> }

  const begin = (challenge) => {
    current = { started: Date.now(), solution: solve(challenge) };
    current.solution.then(
      (payload) => {
        field.value = payload;
      },
      () => {},
    );
    return current.solution;
  };

  // A solution the server still accepts: a form left open for long gets a new challenge.
  const freshSolution = async () => {
    if (Date.now() - current.started > REFRESH_AFTER_MS) {
      const response = await fetch(box.dataset.refreshUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) {
        throw new Error(`no new challenge: HTTP ${response.status}`);
      }
      begin(await response.json());
    }
    return current.solution;
  };

  say(box.dataset.working);
  begin(JSON.parse(box.dataset.challenge)).then(
    () => say(box.dataset.done),
    () => say(box.dataset.failed),
  );

  let sending = false;

  // Back to this page from the next one: that solution is spent, so start again when sent.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      delete form.dataset.solved;
      sending = false;
      field.value = "";
      current.started = 0;
    }
  });

  form.addEventListener("submit", async (event) => {
    if (form.dataset.solved === "yes") {
      return; // our own second submit, with the solution in place
    }
    event.preventDefault();
    if (sending) {
      return;
    }
    sending = true;
    if (!field.value) {
      say(box.dataset.waiting);
    }
    try {
      field.value = await freshSolution();
    } catch (error) {
      say(box.dataset.failed);
      sending = false;
      return;
    }
    form.dataset.solved = "yes";
    // Sent from a new task: while this submit event is still being dispatched, the
    // browser ignores another submission request.
    const submitter = event.submitter || undefined;
    window.setTimeout(() => {
      if (form.requestSubmit) {
        form.requestSubmit(submitter);
      } else {
        HTMLFormElement.prototype.submit.call(form);
      }
    }, 0);
  });
})();
