// The inspector's script: reads the admin API on this origin only, fills the page with textContent
// (never parsed as markup), follows the live feed with fetch() so the token travels in a header and never
// in a URL, and keeps the token in sessionStorage, so it lasts only as long as the tab.
"use strict";

const TOKEN_KEY = "hookguard.admin_token";
const MAX_ROWS = 500;
const ROUTES_EVERY_MS = 5000;
const RETRY_MS = 3000;

// Every reason hookguard records, spelled out for people.
const REASONS = {
  signature_mismatch: "signature did not match any secret",
  verify_token_mismatch: "hub.verify_token was missing or not the route's verify_token",
  missing_signature: "no signature header",
  duplicated_signature: "signature header sent more than once",
  malformed_signature: "signature header could not be parsed",
  missing_timestamp: "no timestamp",
  malformed_timestamp: "timestamp could not be parsed",
  stale_timestamp: "timestamp too old (outside the tolerance)",
  future_timestamp: "timestamp in the future (outside the tolerance)",
  missing_id: "no delivery id where the scheme signs one",
  missing_nonce: "no nonce header where the scheme signs one",
  no_active_secret: "no secret is active for this route",
  unsigned_body: "body not covered by the signature",
  malformed_message: "not an SNS message (not JSON, a field missing or twice, unknown Type)",
  unknown_signature_version: "SNS SignatureVersion is neither 1 nor 2",
  cert_url_not_allowed: "SNS SigningCertURL is off the route's cert_url_pattern",
  topic_not_allowed: "SNS TopicArn is not in the route's topic_arns",
  subscribe_url_not_allowed: "SNS SubscribeURL is not https on a certificate host",
  certificate_not_cached: "SNS signing certificate not fetched",
  content_length_with_transfer_encoding: "both Content-Length and Transfer-Encoding (possible smuggling)",
  missing_host: "no Host header",
  repeated_host: "Host header sent more than once",
  too_many_header_fields: "too many header fields",
  no_route: "no route for this path",
  method_not_allowed: "method not allowed on this route",
  address_not_allowed: "client address not in the route's allow list",
  rate_limited: "over the route's rate limit",
  body_too_large: "body larger than the route allows",
  body_unreadable: "body could not be read",
  body_timeout: "body not received in time",
  event_type_missing: "event type not found, so the event filter could not apply",
  upstream_unreachable: "the app could not be reached",
  upstream_failed: "the app's connection failed mid-answer",
  upstream_timeout: "the app did not answer in time",
  duplicate_in_flight: "the same delivery is being handled right now",
  dedup_unavailable: "the replay-protection store did not answer",
  spool_full: "the spool is full",
  spool_unavailable: "the spool did not answer",
  certificate_unavailable: "the SNS signing certificate could not be fetched",
  subscription_unconfirmed: "the SNS SubscribeURL visit failed",
  client_closed_request: "the sender hung up before the answer",
  path_not_absolute: "path is not absolute",
  path_dot_segment: "path has a . or .. segment",
  path_empty_segment: "path has an empty segment (//)",
  path_backslash: "path has a backslash",
  path_semicolon: "path has a semicolon",
  path_bad_percent_escape: "path has a broken %-escape",
  path_encoded_character: "path encodes a character that must be written plainly",
  path_case_variant: "path differs from a route only in letter case",
  rejected: "the app refused it",
  expired: "gave up: older than max_age",
};

const GOOD = new Set(["forwarded", "queued", "handshake", "duplicate", "ignored_event"]);
const BAD = new Set([
  "refused", "upstream_error", "upstream_timeout", "in_flight", "unavailable", "client_closed",
]);

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY) || "";
let feed = null;

function spell(reason) {
  if (!reason) return "";
  return REASONS[reason] ? `${REASONS[reason]} (${reason})` : reason;
}

function say(text) {
  $("status").textContent = text;
}

// One element with text, and optional class and label for the phone-width card layout.
function cell(text, label, className) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (label) td.dataset.label = label;
  if (className) td.className = className;
  return td;
}

function outcomeCell(outcome) {
  const kind = GOOD.has(outcome) ? "good" : BAD.has(outcome) ? "bad" : "other";
  return cell(outcome.replace(/_/g, " "), "Outcome", `outcome ${kind}`);
}

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  if (response.status === 401) {
    askForToken(token ? "That token was refused." : "This admin address needs the token.");
    throw new Unauthorized("unauthorized");
  }
  return response;
}

function askForToken(why) {
  $("token-form").hidden = false;
  $("token-note").textContent = why;
  say("Waiting for the admin token.");
}

function list(entries, render) {
  const ul = document.createElement("ul");
  for (const [key, count] of entries) {
    const li = document.createElement("li");
    li.textContent = render(key, count);
    ul.append(li);
  }
  return ul;
}

async function loadRoutes() {
  const body = await (await api("/api/routes")).json();
  const tbody = $("routes").tBodies[0];
  const select = $("filter-route");
  const chosen = select.value;
  tbody.replaceChildren();
  select.replaceChildren(new Option("all", ""));
  for (const route of body.routes) {
    const tr = document.createElement("tr");
    const name = route.name === "-" ? "- (no route)" : route.name;
    tr.append(cell(name, "Route"), cell(route.path, "Path", "mono"), cell(route.scheme, "Scheme"),
      cell(route.mode, "Mode"));
    const outcomes = cell("", "Outcomes");
    outcomes.append(list(Object.entries(route.outcomes), (k, n) => `${k.replace(/_/g, " ")}: ${n}`));
    const reasons = cell("", "Refusal reasons");
    reasons.append(list(Object.entries(route.reasons), (k, n) => `${spell(k)}: ${n}`));
    tr.append(outcomes, reasons);
    tbody.append(tr);
    select.append(new Option(name, route.name));
  }
  select.value = chosen;
}

function deliveryRow(d) {
  const tr = document.createElement("tr");
  const when = new Date(d.at);
  const ids = [d.delivery, d.event, d.id ? `spool ${d.id}` : null].filter(Boolean).join(" · ");
  tr.append(
    cell(isNaN(when) ? d.at : when.toLocaleTimeString(), "Time"),
    cell(d.route, "Route"),
    cell(`${d.method} ${d.path}`, "Request", "mono"),
    outcomeCell(d.outcome),
    cell(d.status, "Status", "num"),
    cell(spell(d.reason), "Why"),
    cell(ids, "Delivery / event", "mono"),
    cell(`${(d.latency_us / 1000).toFixed(1)} ms`, "Latency", "num"),
  );
  tr.title = d.at;
  return tr;
}

function wanted(d) {
  const route = $("filter-route").value;
  const outcome = $("filter-outcome").value;
  return (!route || d.route === route) && (!outcome || d.outcome === outcome);
}

async function loadDeliveries() {
  const query = new URLSearchParams({ limit: String(MAX_ROWS) });
  if ($("filter-route").value) query.set("route", $("filter-route").value);
  if ($("filter-outcome").value) query.set("outcome", $("filter-outcome").value);
  const body = await (await api(`/api/deliveries?${query}`)).json();
  $("deliveries").tBodies[0].replaceChildren(...body.deliveries.map(deliveryRow));
}

function prepend(d) {
  if (!wanted(d)) return;
  const tbody = $("deliveries").tBodies[0];
  tbody.prepend(deliveryRow(d));
  while (tbody.rows.length > MAX_ROWS) tbody.lastElementChild.remove();
}

// Reads text/event-stream from a fetch() body: events end with a blank line.
async function follow() {
  if (feed) feed.abort();
  const controller = new AbortController();
  feed = controller;
  try {
    const response = await api("/api/deliveries/stream", { signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`feed answered ${response.status}`);
    $("live").textContent = "(live)";
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (handle(block) === "lagged") await loadDeliveries();
      }
    }
  } catch (error) {
    if (controller.signal.aborted || error instanceof Unauthorized) return;
  }
  if (feed !== controller) return;
  $("live").textContent = "(reconnecting)";
  setTimeout(() => { if (feed === controller) follow(); }, RETRY_MS);
}

function handle(block) {
  let kind = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) kind = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (kind === "lagged") return "lagged";
  if (!data) return "comment";
  try { prepend(JSON.parse(data)); } catch (_) { /* a broken event is skipped, not shown */ }
  return kind;
}

async function loadSpool() {
  const response = await api("/api/spool");
  const tbody = $("spool").tBodies[0];
  if (response.status === 404) {
    $("spool-note").textContent = "No spool configured: every route delivers directly.";
    tbody.replaceChildren();
    $("dead").tBodies[0].replaceChildren();
    return;
  }
  const body = await response.json();
  $("spool-note").textContent = `${body.bytes} of ${body.max_bytes} bytes used.`;
  tbody.replaceChildren(...body.routes.map((r) => {
    const tr = document.createElement("tr");
    tr.append(cell(r.route, "Route"), cell(r.pending, "Pending", "num"),
      cell(r.in_flight, "In flight", "num"), cell(r.dead, "Dead", "num"),
      cell(`${r.oldest_pending_seconds} s`, "Oldest pending", "num"));
    return tr;
  }));
  await loadDeadLetters();
}

async function loadDeadLetters() {
  const body = await (await api("/api/dead-letters?limit=100")).json();
  $("dead").tBodies[0].replaceChildren(...body.dead_letters.map(deadRow));
}

function deadRow(letter) {
  const tr = document.createElement("tr");
  const last = letter.last_status == null ? (letter.last_error || "no answer") : `HTTP ${letter.last_status}`;
  const ids = [letter.delivery, letter.event, `spool ${letter.id}`].filter(Boolean).join(" · ");
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Replay";
  button.addEventListener("click", () => replay(letter.id, button));
  const action = cell("", "");
  action.append(button);
  tr.append(cell(letter.received_at, "Received"), cell(letter.route, "Route"),
    cell(spell(letter.reason), "Why dead"), cell(letter.attempts, "Attempts", "num"),
    cell(last, "Last answer"), cell(ids, "Delivery / event", "mono"), action);
  return tr;
}

async function replay(id, button) {
  button.disabled = true;
  try {
    const response = await api(`/api/dead-letters/${encodeURIComponent(id)}/replay`, { method: "POST" });
    if (response.status === 202) say(`Replayed ${id}: it goes out again now.`);
    else if (response.status === 403) say("Replays need an admin_token in the config; none is configured.");
    else if (response.status === 404) say(`${id} is no longer a dead letter.`);
    else say(`Replay answered ${response.status}.`);
    await loadSpool();
  } catch (error) {
    if (!(error instanceof Unauthorized)) say(`Replay failed: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

async function refresh() {
  try {
    await loadRoutes();
    await loadSpool();
    say(`Updated ${new Date().toLocaleTimeString()}.`);
  } catch (error) {
    if (!(error instanceof Unauthorized)) say(`Could not read the admin API: ${error.message}`);
  }
}

async function start() {
  try {
    await loadRoutes();
    await loadDeliveries();
    $("token-form").hidden = !token;
    follow();
    await refresh();
  } catch (error) {
    if (!(error instanceof Unauthorized)) say(`Could not read the admin API: ${error.message}`);
  }
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  $("token").value = "";
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  $("token-note").textContent = token ? "Token kept for this tab." : "";
  start();
});
$("forget").addEventListener("click", () => {
  token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  $("token-note").textContent = "Token forgotten.";
});
$("filter-route").addEventListener("change", () => loadDeliveries().catch(() => {}));
$("filter-outcome").addEventListener("change", () => loadDeliveries().catch(() => {}));
setInterval(refresh, ROUTES_EVERY_MS);
start();
