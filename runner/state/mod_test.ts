import assert from "node:assert/strict";
import { RunnerError } from "../errors.ts";
import {
  IDENTITY_CHANGED,
  NO_STATE,
  type OpenedStateStore,
  openStateStore,
  rowHash,
  StateLockedError,
  statePaths,
} from "./mod.ts";

const FIELDS = ["id", "amount"];
const h = (id: string, amount: number) => rowHash(FIELDS, { id, amount });

/** Runs `body` with a fresh state folder, removed afterwards. */
function withDir(body: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync();
  try {
    body(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Opens, runs `body`, and closes the store of pipeline "p". */
function session<T>(
  dir: string,
  body: (o: OpenedStateStore) => T,
  identity = "id-1",
  insertOnly = false,
): T {
  const o = openStateStore(dir, "p", identity, { insertOnly });
  try {
    return body(o);
  } finally {
    o.store.close();
  }
}

Deno.test("decide() calls unknown keys new, and confirmed ones unchanged or changed in the next run", () => {
  withDir((dir) => {
    session(dir, ({ store, fresh, reason }) => {
      assert.equal(fresh, true);
      assert.equal(reason, NO_STATE);
      assert.equal(store.decide("A", h("A", 1)), "new");
      store.confirm("A", h("A", 1));
      store.confirm("B", h("B", 2));
      store.commit();
    });
    session(dir, ({ store, fresh }) => {
      assert.equal(fresh, false);
      assert.equal(store.decide("A", h("A", 1)), "unchanged");
      assert.equal(store.decide("B", h("B", 3)), "changed");
      assert.equal(store.decide("C", h("C", 1)), "new");
    });
  });
});

Deno.test("decide() asks to retry a key whose last send was not confirmed, whatever its values", () => {
  withDir((dir) => {
    session(dir, ({ store }) => {
      store.confirm("A", h("A", 1));
      store.unconfirmed("N"); // failed on its first send
      store.commit();
    });
    session(dir, ({ store }) => {
      store.unconfirmed("A"); // this run's send of A failed (or its outcome is unknown)
    });
    session(dir, ({ store }) => {
      assert.equal(store.decide("A", h("A", 1)), "retry");
      assert.equal(store.decide("N", h("N", 1)), "retry");
      store.confirm("A", h("A", 1));
    });
    session(dir, ({ store }) => assert.equal(store.decide("A", h("A", 1)), "unchanged"));
  });
});

Deno.test("with insertOnly, a key the API ever confirmed is never sent again, even changed", () => {
  withDir((dir) => {
    session(
      dir,
      ({ store }) => {
        store.confirm("A", h("A", 1));
        store.unconfirmed("N");
      },
      "id-1",
      true,
    );
    session(
      dir,
      ({ store }) => {
        store.unconfirmed("A");
        assert.equal(store.decide("A", h("A", 9)), "unchanged");
        assert.equal(store.decide("N", h("N", 1)), "retry");
        assert.equal(store.decide("Z", h("Z", 1)), "new");
      },
      "id-1",
      true,
    );
  });
});

Deno.test("removed() lists keys confirmed earlier that this run has not seen", () => {
  withDir((dir) => {
    session(dir, ({ store }) => {
      for (const k of ["A", "B", "C", "D"]) store.confirm(k, h(k, 1));
      store.unconfirmed("F"); // never confirmed: not removed, it never reached the API
    });
    session(dir, ({ store }) => {
      store.decide("A", h("A", 1));
      store.seen("C"); // a row rejected before sending still has its key in the file
      store.unconfirmed("E");
      assert.deepEqual(store.removed(), { count: 2, keys: ["B", "D"] });
      assert.deepEqual(store.removed(1), { count: 2, keys: ["B"] });
    });
    session(dir, ({ store }) => assert.deepEqual(store.removed().keys, ["A", "B", "C", "D"]));
  });
});

Deno.test("a store for another target or mappings starts afresh and says so", () => {
  withDir((dir) => {
    session(dir, ({ store }) => store.confirm("A", h("A", 1)));
    session(dir, ({ store, fresh, reason }) => {
      assert.equal(fresh, true);
      assert.equal(reason, IDENTITY_CHANGED);
      assert.equal(store.decide("A", h("A", 1)), "new");
      assert.equal(store.size, 0);
    }, "id-2");
    session(dir, ({ fresh, reason }) => {
      assert.equal(fresh, true);
      assert.equal(reason, IDENTITY_CHANGED);
    }, "id-1");
  });
});

Deno.test("a second opener of the same pipeline is refused with the holder's pid and start", () => {
  withDir((dir) => {
    session(dir, () => {
      assert.throws(() => openStateStore(dir, "p", "id-1"), (e) => {
        assert.ok(e instanceof StateLockedError);
        assert.equal(e.holder?.pid, Deno.pid);
        assert.match(e.message, new RegExp(`pid ${Deno.pid} started at \\d{4}-\\d\\d-\\d\\dT`));
        return true;
      });
      openStateStore(dir, "other", "id-1").store.close(); // another pipeline is not locked
    });
    session(dir, ({ previousHolder }) => assert.equal(previousHolder, undefined));
  });
});

Deno.test("a lock file left by a dead process is taken over and its holder reported", () => {
  withDir((dir) => {
    const holder = { pid: 999999, started_at: "2026-01-01T00:00:00.000Z" };
    Deno.writeTextFileSync(statePaths(dir, "p").lock, JSON.stringify(holder));
    session(dir, ({ previousHolder }) => assert.deepEqual(previousHolder, holder));
  });
});

Deno.test("a torn last commit is cut off, and later commits are kept after it", () => {
  withDir((dir) => {
    session(dir, ({ store }) => {
      for (let i = 0; i < 100; i++) store.confirm(`k${i}`, i);
    }); // compacted into the snapshot at close
    session(dir, ({ store }) => {
      store.confirm("x", 1);
      store.commit();
      // A kill while appending the next frame leaves part of it.
      Deno.writeFileSync(statePaths(dir, "p").changes, new Uint8Array([40, 0, 0, 0, 1, 2]), {
        append: true,
      });
      store.compact = () => {}; // keep the log as the kill left it
    });
    session(dir, ({ store }) => {
      assert.equal(store.decide("x", 1), "unchanged");
      store.confirm("y", 2);
      store.commit();
      store.compact = () => {};
    });
    session(dir, ({ store }) => {
      assert.equal(store.decide("x", 1), "unchanged");
      assert.equal(store.decide("y", 2), "unchanged");
      assert.equal(store.decide("k99", 99), "unchanged");
    });
  });
});

Deno.test("a log already folded into the snapshot (kill between the renames) is not replayed", () => {
  withDir((dir) => {
    const paths = statePaths(dir, "p");
    session(dir, ({ store }) => {
      store.confirm("A", 1);
      store.commit();
      store.compact = () => {};
    });
    const oldLog = Deno.readFileSync(paths.changes);
    session(dir, ({ store }) => {
      store.confirm("A", 2);
      store.commit();
      store.compact(); // a new snapshot holding A = 2, and a new, empty log
    });
    Deno.writeFileSync(paths.changes, oldLog); // as if killed before the log was replaced
    session(dir, ({ store }) => assert.equal(store.decide("A", 2), "unchanged"));
  });
});

Deno.test("a state file that is not one is an error naming it, not a silent fresh start", () => {
  withDir((dir) => {
    Deno.writeTextFileSync(statePaths(dir, "p").state, "not a state");
    assert.throws(() => openStateStore(dir, "p", "id-1"), (e) => {
      assert.ok(e instanceof RunnerError);
      assert.match(e.message, /^Cannot read the state file ".*p\.state": not a state file; delete/);
      return true;
    });
    openStateStore(dir, "p2", "id-1").store.close(); // and the lock of "p" was released
    Deno.removeSync(statePaths(dir, "p").state);
    session(dir, ({ fresh }) => assert.equal(fresh, true));
  });
});

Deno.test("many keys, non-ASCII keys and keys added after a reopen are all found again", () => {
  withDir((dir) => {
    const keys = Array.from({ length: 5000 }, (_, i) => i % 3 === 0 ? `clé-${i}-€` : `k${i}`);
    session(dir, ({ store }) => keys.slice(0, 3000).forEach((k, i) => store.confirm(k, i)));
    session(dir, ({ store }) => {
      keys.slice(2000).forEach((k, i) => store.confirm(k, 2000 + i));
      store.confirm("clé-€", 1);
      assert.equal(store.decide("clé-$", 1), "new");
    });
    session(dir, ({ store }) => {
      assert.equal(store.size, 5001);
      // In a shuffled order too, so the index is used rather than the stored order.
      for (let n = 0; n < keys.length; n++) {
        const i = (n * 7919) % keys.length;
        assert.equal(store.decide(keys[i]!, i), "unchanged", keys[i]);
      }
      assert.equal(store.decide("clé-€", 1), "unchanged");
    });
  });
});

Deno.test("decideFromSnapshot decides as the snapshot says, ignoring confirmations logged since", () => {
  withDir((dir) => {
    session(dir, ({ store }) => {
      store.confirm("a", 1);
      store.confirm("b", 2);
      store.compact();
    });
    session(dir, ({ store }) => {
      store.confirm("a", 10); // a changed and was confirmed
      store.confirm("c", 3); // c was new and was confirmed
      store.commit();
      store.compact = () => {}; // killed: the log stays as it is
    });
    const o = openStateStore(dir, "p", "id-1", { decideFromSnapshot: true });
    try {
      assert.equal(o.store.decide("a", 10), "changed", "as before the logged confirmation");
      assert.equal(o.store.decide("b", 2), "unchanged");
      assert.equal(o.store.decide("c", 3), "new");
    } finally {
      o.store.close({ compact: false });
    }
    session(dir, ({ store }) => {
      assert.equal(store.decide("a", 10), "unchanged", "the log still applies to later runs");
      assert.equal(store.decide("c", 3), "unchanged");
    });
  });
});

Deno.test("a read-only store decides without a lock and writes nothing", () => {
  withDir((dir) => {
    session(dir, ({ store }) => store.confirm("a", 1));
    const before = Deno.readFileSync(statePaths(dir, "p").state);
    const held = openStateStore(dir, "p", "id-1");
    try {
      const ro = openStateStore(dir, "p", "id-1", { readOnly: true }).store;
      assert.equal(ro.decide("a", 1), "unchanged");
      assert.equal(ro.decide("z", 1), "new");
      assert.throws(() => ro.compact(), /read-only/);
      ro.close();
    } finally {
      held.store.close({ compact: false });
    }
    assert.deepEqual(Deno.readFileSync(statePaths(dir, "p").state), before);
  });
});
