// The Withdrawals API for TypeScript. The types (src/schema.ts) are generated from
// openapi.yaml by openapi-typescript (npm run generate; CI fails when they are stale);
// requests go through openapi-fetch, so every path, parameter, body, answer and error is
// checked by the compiler. This file adds what a merchant's integration needs around
// them: authentication, errors that throw, idempotency keys and webhook verification.
import { randomUUID } from "node:crypto";
import createFetchClient, { type Client, type ClientOptions as FetchOptions } from "openapi-fetch";
import { Webhook } from "standardwebhooks";
import type { components, paths, webhooks } from "./schema.js";

export type { components, operations, paths, webhooks } from "./schema.js";

/** The contract's schemas, by name: `Schemas["Withdrawal"]`, `Schemas["Balance"]`... */
export type Schemas = components["schemas"];
export type Withdrawal = Schemas["Withdrawal"];
export type WithdrawalStatus = Withdrawal["status"];
/** Every error body: `error` is one of the contract's codes. */
export type ApiErrorBody = Schemas["Error"];
export type ErrorCode = ApiErrorBody["error"];

/** Any event the service sends to a webhook endpoint, told apart by `event`. */
export type WebhookEvent = {
  [E in keyof webhooks]: webhooks[E]["post"]["requestBody"]["content"]["application/json"];
}[keyof webhooks];
export type WebhookEventType = WebhookEvent["event"];
/** The event of one type: `WebhookEventOf<"withdrawal.confirmed">`. */
export type WebhookEventOf<T extends WebhookEventType> = Extract<WebhookEvent, { event: T }>;

export interface ClientOptions {
  /** Where the service listens, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A merchant's or an admin's API key. */
  apiKey: string;
  /** Another fetch (tests, proxies); the global one by default. */
  fetch?: FetchOptions["fetch"];
}

/** The API's client: `client.GET("/api/balance")`, `client.POST("/api/withdrawals", {...})`. */
export type WithdrawalsClient = Client<paths>;

export function createClient(options: ClientOptions): WithdrawalsClient {
  return createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: options.fetch,
    headers: { Authorization: `Bearer ${options.apiKey}` },
  });
}

/** An error answer of the API, thrown by `unwrap`. */
export class WithdrawalsApiError extends Error {
  readonly code: ErrorCode | undefined;
  readonly status: number;
  /** Quote it to support: every log line about the request carries it. */
  readonly requestId: string | null;
  readonly body: ApiErrorBody | undefined;

  constructor(response: Response, body: unknown) {
    const known = isErrorBody(body) ? body : undefined;
    super(known ? `${known.error}: ${known.message}` : `HTTP ${response.status}`);
    this.name = "WithdrawalsApiError";
    this.status = response.status;
    this.code = known?.error;
    this.body = known;
    this.requestId = response.headers.get("X-Request-ID");
  }
}

function isErrorBody(body: unknown): body is ApiErrorBody {
  return typeof body === "object" && body !== null && typeof (body as ApiErrorBody).error === "string";
}

/**
 * The data of an answer, or a thrown WithdrawalsApiError:
 * `const balance = await unwrap(client.GET("/api/balance"))`.
 */
export async function unwrap<D>(call: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    throw new WithdrawalsApiError(response, error);
  }
  return data as D;
}

/**
 * A new idempotency key. Make one per withdrawal you mean to create, keep it with your
 * order, and send the same key again when you retry after a timeout or a crash: the
 * service answers with the withdrawal first created (header `Idempotent-Replayed: true`)
 * and locks nothing twice.
 */
export function newIdempotencyKey(): string {
  return randomUUID();
}

/** The header parameters of a request sent with an idempotency key. */
export function idempotent(key: string = newIdempotencyKey()): { header: { "Idempotency-Key": string } } {
  return { header: { "Idempotency-Key": key } };
}

/**
 * Checks webhook requests' signatures (Standard Webhooks: `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`, with a five-minute window on the timestamp)
 * and returns their events, typed. Give it the body exactly as received: parsed and
 * serialized again, it no longer matches its signature.
 */
export class WebhookVerifier {
  private readonly webhook: Webhook;

  /** secret: the endpoint's `whsec_...`, shown when it was created or rotated. */
  constructor(secret: string) {
    this.webhook = new Webhook(secret);
  }

  /** The verified event; throws when the signature or the timestamp does not hold. */
  verify(rawBody: string | Buffer, headers: Headers | Record<string, string | string[] | undefined>): WebhookEvent {
    return this.webhook.verify(rawBody, plainHeaders(headers)) as WebhookEvent;
  }
}

function plainHeaders(headers: Headers | Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers instanceof Headers) {
    headers.forEach((value, name) => { out[name] = value; });
    return out;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(" ") : value;
  }
  return out;
}
