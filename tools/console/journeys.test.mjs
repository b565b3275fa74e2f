// The console's journeys in headless Chromium (Debian's, at $CHROMIUM), driven by
// playwright-core, against a running service. console/browser_test.go starts the real
// binary on its own database, prepares the merchants, keys and a flagged batch, and
// runs this file with node --test. Each journey saves screenshots in $SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these journeys through console/browser_test.go`);
  return v;
};
const base = env("CONSOLE_URL");
const shots = env("SCREENSHOTS");
mkdirSync(shots, { recursive: true });

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: env("CHROMIUM"),
    // No network but the service's: Chromium's background services would try Google's hosts.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});
after(async () => { await browser?.close(); });

// page opens a fresh browser context (no cookies), optionally phone-sized.
async function page({ phone = false, bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 }, bypassCSP });
  const p = await context.newPage();
  const external = [];
  // The page's own origin, inline data and blobs it made itself are not another host.
  p.on("request", (r) => { if (![base, `blob:${base}`, "data:"].some((own) => r.url().startsWith(own))) external.push(r.url()); });
  p.external = external;
  return p;
}

async function signIn(p, key) {
  await p.goto(`${base}/console/sign-in`);
  await p.getByLabel("API key").fill(key);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.waitForURL((url) => !url.pathname.endsWith("/sign-in"));
}

async function api(path, key, init = {}) {
  const response = await fetch(`${base}${path}`, { ...init, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...(init.headers || {}) } });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const shot = (p, name) => p.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

test("a merchant creates a withdrawal from the form and sees it confirmed", async () => {
  const p = await page();
  await signIn(p, env("MERCHANT_KEY"));
  assert.equal(await p.getByRole("heading", { level: 1 }).textContent(), "Balances");
  await shot(p, "merchant-balances");
  await p.getByRole("link", { name: "New withdrawal" }).click();
  await p.getByLabel("Token", { exact: true }).selectOption("USDT");
  await p.getByLabel("Amount", { exact: true }).fill("100");
  await p.getByLabel("Address", { exact: true }).fill("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  // The live preview follows the form.
  await p.getByText("Recipient receives").waitFor();
  assert.match(await p.locator("#quote").textContent(), /Fee/);
  await shot(p, "merchant-new-withdrawal");
  await p.getByRole("button", { name: "Create withdrawal" }).click();
  await p.waitForURL(/\/console\/withdrawals\/wth_/);
  const detailURL = p.url();
  assert.match(await p.getByRole("status").textContent(), /Withdrawal created/);
  const deadline = Date.now() + 60_000;
  while ((await p.locator("#status").textContent()) !== "confirmed") {
    assert.ok(Date.now() < deadline, "the withdrawal did not reach confirmed within 60 s");
    await p.waitForTimeout(500);
    await p.goto(detailURL);
  }
  assert.match(await p.locator(".timeline").textContent(), /processing[\s\S]*confirmed/);
  // Its webhook deliveries, as the receiver answered them.
  while (!/withdrawal\.confirmed\s*\S+\s*succeeded/.test(await p.locator("main").textContent())) {
    assert.ok(Date.now() < deadline, "the confirmed event was not delivered within 60 s");
    await p.waitForTimeout(500);
    await p.reload();
  }
  await shot(p, "merchant-withdrawal-confirmed");
  await p.goto(`${base}/console/withdrawals?status=confirmed`);
  assert.equal(await p.locator("tbody tr").count(), 1);
  const csv = await p.request.get(`${base}/console/withdrawals.csv?status=confirmed`);
  assert.match(await csv.text(), /^id,created_at,status/);
  assert.deepEqual(p.external, [], "the console asked another host");
});

test("a bad address shows the API's error beside the field and creates nothing", async () => {
  const before = await api("/api/withdrawals?limit=1", env("MERCHANT_KEY"));
  const p = await page({ phone: true });
  await signIn(p, env("MERCHANT_KEY"));
  await p.goto(`${base}/console/withdrawals/new`);
  await p.getByLabel("Token", { exact: true }).selectOption("USDT");
  await p.getByLabel("Amount", { exact: true }).fill("10");
  await p.getByLabel("Address", { exact: true }).fill("0xnot-an-address");
  await p.getByRole("button", { name: "Create withdrawal" }).click();
  const error = p.locator("#address-error");
  await error.waitFor();
  assert.match(await error.textContent(), /Not a valid USDT address/);
  assert.equal(await p.getByLabel("Address", { exact: true }).getAttribute("aria-invalid"), "true");
  assert.equal(await p.getByLabel("Address", { exact: true }).getAttribute("aria-describedby"), "address-error");
  await shot(p, "merchant-bad-address-phone");
  const afterList = await api("/api/withdrawals?limit=1", env("MERCHANT_KEY"));
  assert.equal(afterList.body.pagination.total, before.body.pagination.total);
});

test("an operator resolves a batch flagged for review and sees the funds and the audit entry", async () => {
  const batch = env("FLAGGED_BATCH");
  const before = await api("/api/balance", env("MERCHANT_B_KEY"));
  const eth = (b) => b.body.balances.find((x) => x.token === "ETH");
  assert.equal(eth(before).pending, "1");
  const p = await page();
  await signIn(p, env("ADMIN_KEY"));
  assert.match(await p.getByRole("alert").textContent(), /1 payout batch\(es\) need review/);
  await shot(p, "operator-overview");
  await p.getByRole("link", { name: "Needs review" }).click();
  const card = p.locator("section.card", { has: p.getByText(batch) });
  await card.getByLabel("Fail and return the funds").check();
  await card.getByLabel("Reason (to fail)").fill("the rail never received it");
  // Without the confirmation the decision is refused.
  await card.getByRole("button", { name: "Record the decision" }).click({ noWaitAfter: true });
  assert.equal(await card.getByLabel("I checked what the rail did with this batch").evaluate((el) => el.validity.valueMissing), true);
  await shot(p, "operator-review");
  await card.getByLabel("I checked what the rail did with this batch").check();
  await card.getByRole("button", { name: "Record the decision" }).click();
  await p.getByRole("status").waitFor();
  assert.match(await p.getByRole("status").textContent(), new RegExp(`Batch ${batch}: fail recorded`));
  assert.match(await p.locator("main").textContent(), /No payout batch needs review/);
  const afterB = await api("/api/balance", env("MERCHANT_B_KEY"));
  assert.equal(eth(afterB).pending, "0");
  assert.equal(eth(afterB).available, "5");
  await p.goto(`${base}/console/ops`);
  assert.match(await p.locator("main").textContent(), /No payout batch needs review/);
  await p.getByRole("link", { name: "Audit trail" }).click();
  assert.match(await p.locator("tbody").textContent(), /withdrawal\.fail/);
  await shot(p, "operator-audit");
});

test("an operator changes a fee after previewing it", async () => {
  const p = await page();
  await signIn(p, env("ADMIN_KEY"));
  await p.goto(`${base}/console/ops/fees`);
  await p.getByLabel("Schedule", { exact: true }).selectOption("USDT");
  await p.getByLabel("Base fee (in the token)").fill("2");
  await p.getByLabel("Markup rate (0.02 is 2%)").fill("0.01");
  await p.getByLabel("Amount", { exact: true }).fill("100");
  await p.getByLabel("Token", { exact: true }).selectOption("USDT");
  await p.getByRole("button", { name: "Preview" }).click();
  await p.waitForURL(/baseFee=2/);
  assert.match(await p.locator("#fee-preview").textContent(), /3 USDT \(3\.00%\)[\s\S]*97 USDT/);
  await shot(p, "operator-fee-preview");
  // Nothing is saved by a preview.
  const quote = await api("/api/withdrawals/fee?token=USDT&amount=100", env("MERCHANT_KEY"));
  assert.notEqual(quote.body.feeInfo.totalFees, "3");
  await p.getByRole("button", { name: "Save the schedule" }).click();
  await p.getByRole("status").waitFor();
  assert.match(await p.getByRole("status").textContent(), /Fee schedule USDT saved/);
  const saved = await api("/api/withdrawals/fee?token=USDT&amount=100", env("MERCHANT_KEY"));
  assert.equal(saved.body.feeInfo.totalFees, "3");
  await p.goto(`${base}/console/ops/audit`);
  assert.match(await p.locator("tbody").textContent(), /fee_schedule\.set/);
});

test("an operator creates a merchant, issues a key shown once, credits and revokes it", async () => {
  const p = await page();
  await signIn(p, env("ADMIN_KEY"));
  await p.getByRole("link", { name: "Merchants" }).click();
  await p.getByLabel("New merchant's name").fill("Gamma Games");
  await p.getByRole("button", { name: "Create merchant" }).click();
  await p.getByRole("heading", { level: 1, name: /Gamma Games/ }).waitFor();
  await p.getByLabel("Name", { exact: true }).fill("production");
  await p.getByRole("button", { name: "Issue key" }).click();
  const plaintext = await p.getByLabel("production (read_write)").inputValue();
  assert.match(plaintext, /^wk_/);
  await shot(p, "operator-key-issued");
  await p.goto(p.url().replace(/\/keys$/, "")); // shown once: the merchant's page does not show it again
  assert.equal(await p.locator("#plaintext").count(), 0);
  assert.equal((await api("/api/balance", plaintext)).status, 200);
  await p.getByLabel("Token", { exact: true }).selectOption("USDT");
  await p.getByLabel("Amount", { exact: true }).fill("250");
  await p.getByLabel(/^Reference/).fill("wire-001");
  await p.getByRole("button", { name: "Post credit" }).click();
  assert.match(await p.getByRole("status").textContent(), /Credit of 250 USDT posted/);
  const usdt = (await api("/api/balance", plaintext)).body.balances.find((b) => b.token === "USDT");
  assert.equal(usdt.available, "250");
  // A repeated reference is refused with the API's own message.
  await p.getByLabel("Amount", { exact: true }).fill("250");
  await p.getByLabel(/^Reference/).fill("wire-001");
  await p.getByRole("button", { name: "Post credit" }).click();
  assert.match(await p.getByRole("alert").textContent(), /wire-001/);
  const row = p.locator("tbody tr", { hasText: "production" });
  await row.getByLabel("confirm").check();
  await row.getByRole("button", { name: "Revoke" }).click();
  assert.match(await p.getByRole("status").textContent(), /revoked/);
  assert.equal((await api("/api/balance", plaintext)).status, 401);
});

test("an operator approves a withdrawal an approval rule held", async () => {
  const p = await page();
  await signIn(p, env("ADMIN_KEY"));
  await p.getByRole("link", { name: "Limits" }).click();
  const form = p.getByRole("form", { name: "Set an approval rule" });
  await form.getByLabel("Token").selectOption("USDT");
  await form.getByLabel("Hold above").fill("300");
  await form.getByRole("button", { name: "Save rule" }).click();
  assert.match(await p.getByRole("status").textContent(), /Approval rule of USDT saved/);
  const held = await api("/api/withdrawals", env("MERCHANT_KEY"), { method: "POST",
    body: JSON.stringify({ token: "USDT", amount: "400", address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" }) });
  assert.equal(held.body.status, "pending_approval");
  await p.getByRole("link", { name: "Approvals" }).click();
  const row = p.locator("tbody tr", { hasText: held.body.id });
  await row.getByLabel("Reason").fill("checked with the merchant");
  await shot(p, "operator-approvals");
  await row.getByRole("button", { name: "Approve" }).click();
  assert.match(await p.getByRole("status").textContent(), /it is pending/);
  assert.match(await p.locator("main").textContent(), /No withdrawal is waiting for approval/);
  await api("/api/admin/approval-rules?token=USDT", env("ADMIN_KEY"), { method: "DELETE" });
});

test("a merchant adds a webhook endpoint, sees its secret once and pings it", async () => {
  const p = await page();
  await signIn(p, env("MERCHANT_KEY"));
  await p.getByRole("link", { name: "Webhooks" }).click();
  await p.getByLabel("URL (https)").fill(`${env("RECEIVER_URL")}/second`);
  await p.getByLabel("withdrawal.confirmed").check();
  await p.getByRole("button", { name: "Add endpoint" }).click();
  assert.match(await p.getByLabel("Secret", { exact: true }).inputValue(), /^whsec_/);
  await shot(p, "merchant-webhook-secret");
  const row = p.locator("tbody tr", { hasText: "/second" });
  await row.getByRole("button", { name: "Send a test ping" }).click();
  assert.match(await p.getByRole("status").textContent(), /ping is on its way/);
  const deadline = Date.now() + 30_000;
  while (!/ping\s*\S+\s*succeeded/.test(await p.locator("main").textContent())) {
    assert.ok(Date.now() < deadline, "the ping was not delivered within 30 s");
    await p.waitForTimeout(300);
    await p.reload();
  }
  await p.getByRole("link", { name: "Whitelist" }).click();
  await p.getByLabel("Token", { exact: true }).selectOption("ETH");
  await p.getByLabel("Address", { exact: true }).fill("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359");
  await p.getByLabel("Label").fill("treasury");
  await p.getByRole("button", { name: "Add address" }).click();
  assert.match(await p.locator(".flash, .error").first().textContent(), /Address added/);
  assert.match(await p.locator("tbody").textContent(), /treasury/);
});

test("the keyboard alone signs in and reaches the withdrawals", async () => {
  const p = await page();
  await p.goto(`${base}/console/sign-in`);
  const tabTo = async (matches) => {
    for (let i = 0; i < 30; i++) {
      await p.keyboard.press("Tab");
      if (await p.evaluate(matches)) return;
    }
    assert.fail("not reachable with Tab");
  };
  await tabTo(() => document.activeElement.id === "key");
  await p.keyboard.type(env("MERCHANT_KEY"));
  await p.keyboard.press("Enter");
  await p.waitForURL(/\/console\/balances/);
  await tabTo(() => document.activeElement.textContent === "Withdrawals");
  await p.keyboard.press("Enter");
  await p.waitForURL(/\/console\/withdrawals$/);
  await tabTo(() => document.activeElement.id === "f-status");
});

test("a read-only key finds no action that writes", async () => {
  const p = await page();
  await signIn(p, env("READ_KEY"));
  assert.match(await p.locator(".who").textContent(), /read-only/);
  const { body } = await api("/api/withdrawals?limit=1", env("MERCHANT_KEY"));
  for (const path of ["/console/balances", "/console/withdrawals", `/console/withdrawals/${body.withdrawals[0].id}`, "/console/withdrawals/new"]) {
    await p.goto(`${base}${path}`);
    const writes = await p.locator('form[method="post"]:not([action="/console/sign-out"])').count();
    assert.equal(writes, 0, `${path} offers a form that writes`);
  }
  assert.equal(await p.getByRole("link", { name: "New withdrawal" }).count(), 0);
  await shot(p, "read-only-withdrawals");
  // Even a well-formed post, with the session's own token, is refused.
  const token = await p.locator('input[name="_csrf"]').first().inputValue();
  const status = await p.evaluate(async (token) => {
    const form = new URLSearchParams({ _csrf: token, token: "USDT", amount: "10", address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" });
    return (await fetch("/console/withdrawals", { method: "POST", body: form })).status;
  }, token);
  assert.equal(status, 403);
});

test("a form post without its CSRF token is refused and changes nothing", async () => {
  const before = await api("/api/withdrawals?limit=1", env("MERCHANT_KEY"));
  const p = await page();
  await signIn(p, env("MERCHANT_KEY"));
  const statuses = await p.evaluate(async () => {
    const post = async (extra) => (await fetch("/console/withdrawals", { method: "POST",
      body: new URLSearchParams({ token: "USDT", amount: "10", address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ...extra }) })).status;
    return [await post({}), await post({ _csrf: "forged" })];
  });
  assert.deepEqual(statuses, [403, 403]);
  const afterList = await api("/api/withdrawals?limit=1", env("MERCHANT_KEY"));
  assert.equal(afterList.body.pagination.total, before.body.pagination.total);
  // Signing out ends the session on the server: the old cookie opens nothing.
  const cookies = await p.context().cookies();
  assert.ok(cookies.every((c) => c.name !== "wd_console" || (c.httpOnly && c.sameSite === "Strict")));
  await p.getByRole("button", { name: "Sign out" }).click();
  await p.waitForURL(/sign-in/);
  const again = await browser.newContext();
  await again.addCookies(cookies);
  const q = await again.newPage();
  await q.goto(`${base}/console/balances`);
  assert.match(q.url(), /sign-in/);
  await again.close();
});

test("the pages fit a phone-width window", async () => {
  for (const [key, paths] of [[env("MERCHANT_KEY"), ["/console/balances", "/console/withdrawals", "/console/withdrawals/new", "/console/webhooks"]],
    [env("ADMIN_KEY"), ["/console/ops", "/console/ops/review", "/console/ops/fees", "/console/ops/merchants"]]]) {
    const p = await page({ phone: true });
    await signIn(p, key);
    for (const path of paths) {
      await p.goto(`${base}${path}`);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${path} is ${overflow}px wider than a phone`);
      await shot(p, "phone" + path.replaceAll("/", "-"));
    }
  }
});

test("the main pages have no serious accessibility violations", async () => {
  const axe = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  const check = async (key, paths) => {
    const p = await page({ bypassCSP: true }); // to inject axe; the pages themselves are unchanged
    await signIn(p, key);
    for (const path of paths) {
      await p.goto(`${base}${path}`);
      await shot(p, "page" + path.replaceAll("/", "-"));
      await p.evaluate(axe);
      const result = await p.evaluate(async () => await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "best-practice"] }));
      const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      assert.deepEqual(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`), [], `${path}`);
    }
  };
  const signInPage = await page({ bypassCSP: true });
  await signInPage.goto(`${base}/console/sign-in`);
  await signInPage.evaluate(axe);
  const result = await signInPage.evaluate(async () => await window.axe.run());
  assert.deepEqual(result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id), []);
  await check(env("MERCHANT_KEY"), ["/console/balances", "/console/withdrawals", "/console/withdrawals/new", "/console/webhooks", "/console/whitelist"]);
  await check(env("ADMIN_KEY"), ["/console/ops", "/console/ops/review", "/console/ops/fees", "/console/ops/audit", "/console/ops/approvals",
    "/console/ops/batches", "/console/ops/merchants", "/console/ops/policies", "/console/ops/reconciliation"]);
});

test("a merchant opens the API reference, which renders from the service alone", async () => {
  const p = await page();
  const refused = [];
  p.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) refused.push(m.text()); });
  await signIn(p, env("MERCHANT_KEY"));
  await p.getByRole("link", { name: "API reference" }).click();
  await p.waitForURL(`${base}/docs`);
  // Redoc has read openapi.yaml: an operation, a webhook event and an error code's example.
  await p.getByRole("heading", { name: "Create a withdrawal" }).first().waitFor({ timeout: 30_000 });
  await p.getByRole("heading", { name: "withdrawal.confirmed" }).first().waitFor({ state: "attached" });
  assert.match(await p.locator("body").textContent(), /IDEMPOTENCY_KEY_REUSED/);
  await shot(p, "docs");
  assert.deepEqual(p.external, [], "the reference asked another host");
  assert.deepEqual(refused, [], "the page broke its own Content-Security-Policy");
});
