// The DCE Pay guide's integration, written with the SDK against the real service:
// check the balance, create a withdrawal with an idempotency key (and retry it), list
// and get it, and receive and verify its confirmed webhook. sdk/sdk_test.go starts the
// binary on its own database, creates a merchant with a USDT balance, and runs this
// file with the service's address and the merchant's key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createClient, idempotent, newIdempotencyKey, unwrap, WebhookVerifier, WithdrawalsApiError,
  type WebhookEvent, type WebhookEventOf,
} from "../src/index.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through sdk/sdk_test.go (make test)`);
  return value;
};
const client = createClient({ baseUrl: env("WITHDRAWALS_URL"), apiKey: env("MERCHANT_KEY") });
const address = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

interface Delivery { headers: IncomingHttpHeaders; body: string }

// A merchant's webhook endpoint on 127.0.0.1, keeping every request as received.
async function receiver(): Promise<{ url: string; deliveries: Delivery[]; close: () => void }> {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/webhooks`, deliveries, close: () => server.close() };
}

async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    assert.ok(Date.now() < deadline, `${what} within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("a withdrawal from balance to a verified confirmed webhook", async () => {
  const hooks = await receiver();
  try {
    const endpoint = await unwrap(client.POST("/api/webhook-endpoints", { body: { url: hooks.url, description: "orders" } }));
    const verifier = new WebhookVerifier(endpoint.secret);

    const before = await unwrap(client.GET("/api/balance"));
    const usdt = before.balances.find((b) => b.token === "USDT");
    assert.ok(usdt, "a USDT balance");
    assert.equal(usdt.available, "1000");

    const key = newIdempotencyKey();
    const body = { token: "USDT", network: "ethereum", amount: "25", address, metadata: { orderId: "order-1001" } };
    const first = await client.POST("/api/withdrawals", { params: idempotent(key), body });
    assert.equal(first.response.status, 201);
    const created = first.data!;
    assert.equal(created.status, "pending");
    assert.equal(created.amount, "25");
    // The same key again (a retry after a timeout): the same withdrawal, nothing locked twice.
    const retry = await client.POST("/api/withdrawals", { params: idempotent(key), body });
    assert.equal(retry.response.headers.get("Idempotent-Replayed"), "true");
    assert.equal(retry.data!.id, created.id);

    const list = await unwrap(client.GET("/api/withdrawals", { params: { query: { token: "USDT", limit: 10 } } }));
    assert.deepEqual(list.withdrawals.map((w) => w.id), [created.id]);

    const confirmed = await until("the withdrawal confirmed", 60, async () => {
      const w = await unwrap(client.GET("/api/withdrawals/{id}", { params: { path: { id: created.id } } }));
      return w.status === "confirmed" ? w : undefined;
    });
    assert.ok(confirmed.txHash);

    const event = await until("the withdrawal.confirmed webhook", 30, async () => {
      for (const d of hooks.deliveries) {
        const e: WebhookEvent = verifier.verify(d.body, d.headers as Record<string, string>);
        if (e.event === "withdrawal.confirmed" && e.data.id === created.id) return e;
      }
      return undefined;
    });
    const typed: WebhookEventOf<"withdrawal.confirmed"> = event;
    assert.equal(typed.data.txHash, confirmed.txHash);
    assert.equal(typed.data.netAmount, created.netAmount);
    assert.equal(typed.data.metadata["orderId"], "order-1001");

    // A body changed on the way no longer verifies.
    const delivery = hooks.deliveries[0]!;
    assert.throws(() => verifier.verify(delivery.body.replace('"25"', '"2500"'), delivery.headers as Record<string, string>));

    const after = await unwrap(client.GET("/api/balance"));
    assert.equal(after.balances.find((b) => b.token === "USDT")?.available, "975");
  } finally {
    hooks.close();
  }
});

test("an error answer throws with its code and request id, and creates nothing", async () => {
  const key = newIdempotencyKey();
  await assert.rejects(
    unwrap(client.POST("/api/withdrawals", { params: idempotent(key), body: { token: "USDT", network: "ethereum", amount: "5", address: "0x123" } })),
    (err: unknown) => {
      assert.ok(err instanceof WithdrawalsApiError);
      assert.equal(err.status, 400);
      assert.equal(err.code, "INVALID_ADDRESS");
      assert.match(err.requestId ?? "", /\S/);
      return true;
    },
  );
  const list = await unwrap(client.GET("/api/withdrawals", { params: { query: { limit: 100 } } }));
  assert.ok(list.withdrawals.every((w) => w.amount !== "5"));
});
