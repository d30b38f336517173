// The SPA flow of docs/spa.md, in plain JavaScript.
// - Sign in with {"cookie": true}: the access token comes back in the body and is kept in memory only;
//   the refresh token is set as an HttpOnly cookie (path /api/auth) that this script can never read.
// - Shortly before the access token expires, POST /api/auth/refresh with the CSRF
//   cookie's value echoed in X-CSRF-Token; a 401 on any call also triggers one silent refresh.
// - On load, the same refresh restores the session from the cookie.
// - Sign out: POST /api/auth/logout revokes the session and clears the cookies.
// - The one-time links authsvc mails (<link base>#reset=<token>, #verify=<token>, #email=<token>):
//   the token rides in the fragment, so a mail scanner fetching the link spends nothing. The page
//   takes it out of the address bar (and so out of history) at once, keeps it in memory, and POSTs
//   it only when the person clicks.
// - The second factor: a login that answers {"mfa_required": true} is completed by a code POSTed to
//   /api/auth/mfa/verify with its mfa_token, kept in memory only; signed in, the page turns the
//   factor on (password, QR code, a first code, ten recovery codes shown once) and off.
"use strict";

const state = { access: null, timer: null, refreshes: 0, link: null, mfaToken: null, recovery: [] };
const $ = (id) => document.getElementById(id);

// Over https the cookie is __Host-csrf_refresh_token (only this host can set it); on plain-http
// localhost in development it is csrf_refresh_token. The prefixed one wins when both are present,
// since the bare name may have been planted by another site on the same host or a sibling domain.
function csrfToken() {
  const match =
    document.cookie.match(/(?:^|;\s*)__Host-csrf_refresh_token=([^;]*)/) ||
    document.cookie.match(/(?:^|;\s*)csrf_refresh_token=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// An answer that is not JSON (a proxy's error page) reads as an empty body, not an exception.
async function readBody(response) {
  try {
    return await response.json();
  } catch {
    return {};
  }
}

// A validation error's field messages say more than its summary ("Invalid body: check password.").
function reason(body, status) {
  const fields = (body.errors || []).map((e) => e.msg).join(" ");
  return fields || body.detail || "request failed: " + status;
}

function say(message) {
  $("error").textContent = "";
  $("notice").textContent = message;
}

function complain(message) {
  $("notice").textContent = "";
  $("error").textContent = message;
}

function postJson(path, body) {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function call(path, options = {}) {
  const headers = Object.assign({}, options.headers);
  if (state.access) headers.Authorization = "Bearer " + state.access;
  return fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
}

// A 401 for a stale or missing access token earns one silent refresh and a retry. Any other 401 (a
// wrong password or code) is the answer itself: retrying would send the credential again and spend
// the failed sign-in budget twice.
const STALE_TOKEN = new Set(["invalid_token", "missing_token"]);

async function authorized(path, options) {
  let response = await call(path, options);
  if (response.status === 401 && STALE_TOKEN.has((await readBody(response.clone())).code)) {
    if (await refresh()) response = await call(path, options);
  }
  return response;
}

function sendJson(path, method, body) {
  const headers = { "Content-Type": "application/json" };
  return authorized(path, { method, headers, body: JSON.stringify(body) });
}

function accept(body) {
  state.access = body.access_token;
  clearTimeout(state.timer);
  // Refresh a little before expiry: 30 s early, or a fifth of the lifetime for short ones.
  const lead = Math.min(30, body.expires_in / 5);
  state.timer = setTimeout(refresh, Math.max(1, body.expires_in - lead) * 1000);
}

async function refresh() {
  const response = await fetch("/api/auth/refresh", {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken() },
  });
  if (!response.ok) {
    signedOut();
    return false;
  }
  accept(await response.json());
  state.refreshes += 1;
  $("refreshes").textContent = String(state.refreshes);
  return true;
}

// The forms of a signed-out page: sign in, forgot password, register.
function showSignInForms(visible) {
  for (const id of ["login", "register", "forgot-form"]) $(id).hidden = !visible;
}

function signedOut(message = "") {
  state.access = null;
  clearTimeout(state.timer);
  endCodeStep();
  resetMfaPanel();
  $("status").textContent = "signed out";
  $("who").textContent = "";
  $("account").hidden = true;
  showSignInForms(true);
  $("session-list").replaceChildren();
  $("error").textContent = message;
}

async function showWhoami() {
  const response = await authorized("/api/auth/whoami");
  if (!response.ok) {
    signedOut("whoami failed: " + response.status);
    return;
  }
  const user = await response.json();
  $("status").textContent = "signed in";
  $("who").textContent = "as " + user.username;
  $("account").hidden = false;
  showSignInForms(false);
  $("error").textContent = "";
  showEmail(user);
  showMfa(user);
}

// Whether the address is verified (users made by the CLI may have none), and a resend when it is not.
function showEmail(user) {
  const known = Boolean(user.email) && typeof user.email_verified === "boolean";
  $("email-address").textContent = user.email || "none on file";
  $("email-verified").textContent = known ? (user.email_verified ? "verified" : "not verified") : "";
  $("email-verified").dataset.verified = String(Boolean(user.email_verified));
  $("resend-verification").hidden = !known || user.email_verified;
}

async function resendVerification() {
  const button = $("resend-verification");
  button.disabled = true;
  try {
    const response = await authorized("/api/auth/email/verify/resend", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    const body = await readBody(response);
    if (response.ok) say(body.message);
    else complain(reason(body, response.status));
  } finally {
    button.disabled = false;
  }
}

async function signIn(event) {
  event.preventDefault();
  const response = await fetch("/api/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value, cookie: true }),
  });
  $("password").value = "";
  const body = await readBody(response);
  if (!response.ok) {
    complain(reason(body, response.status));
    return;
  }
  $("notice").textContent = "";
  if (body.mfa_required) {
    askForCode(body.mfa_token);
    return;
  }
  accept(body);
  await showWhoami();
}

// The second step of signing in. The mfa_token lives in state only: never in storage or the address.
function askForCode(mfaToken) {
  state.mfaToken = mfaToken;
  $("status").textContent = "password accepted, code needed";
  showSignInForms(false);
  $("mfa-form").hidden = false;
  $("mfa-code").value = "";
  $("mfa-error").textContent = "";
  $("mfa-code").focus();
}

function endCodeStep() {
  state.mfaToken = null;
  $("mfa-form").hidden = true;
  $("mfa-code").value = "";
  $("mfa-error").textContent = "";
}

async function verifyCode(event) {
  event.preventDefault();
  if (!state.mfaToken) return;
  const submit = $("mfa-form").querySelector("button[type=submit]");
  submit.disabled = true; // one answer per code: a double submit would count a used code as wrong
  $("mfa-error").textContent = "";
  try {
    const code = $("mfa-code").value;
    const response = await postJson("/api/auth/mfa/verify", { mfa_token: state.mfaToken, code });
    const body = await readBody(response);
    if (response.ok) {
      endCodeStep();
      accept(body);
      await showWhoami();
    } else if (body.code === "invalid_code") {
      $("mfa-error").textContent = "That code is not valid.";
      $("mfa-code").select();
    } else if (body.code === "invalid_token") {
      // Five wrong codes voided it, or its five minutes ran out: only a new sign-in helps.
      signedOut("That sign-in expired or had too many wrong codes: sign in again.");
      $("username").focus();
    } else {
      $("mfa-error").textContent = reason(body, response.status);
    }
  } catch {
    $("mfa-error").textContent = "Could not reach authsvc: try again.";
  } finally {
    submit.disabled = false;
  }
}

function cancelCodeStep() {
  signedOut();
  $("password").focus();
}

// The second factor's panel, signed in: on or off, turning it on, recovery codes, turning it off.
function showMfa(user) {
  const on = Boolean(user.mfa_enabled);
  $("mfa-status").textContent = on ? "on" : "off";
  $("mfa-status").dataset.on = String(on);
  const enrolling = !$("mfa-start-form").hidden || !$("mfa-setup").hidden;
  $("mfa-enable").hidden = on || enrolling;
  $("mfa-manage").hidden = !on;
  $("mfa-session").textContent = (on && SESSION_LEVELS[tokenClaims(state.access).aal]) || "";
}

const SESSION_LEVELS = {
  1: "This session was signed in with your password alone: turning the factor off needs one signed in with it.",
  2: "This session was signed in with your password and a code.",
};

// The access token's claims (amr, aal), read for display only: the server checks them on every call.
function tokenClaims(token) {
  try {
    const payload = String(token).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

function mfaSay(message, tone = "ok") {
  $("mfa-feedback").textContent = message;
  $("mfa-feedback").dataset.tone = tone;
}

// Back to the resting panel; the secret, the QR code and any recovery codes leave the page.
function resetMfaPanel() {
  for (const id of ["mfa-start-form", "mfa-setup", "recovery"]) $(id).hidden = true;
  for (const id of ["mfa-password", "mfa-confirm-code", "mfa-manage-code"]) $(id).value = "";
  $("mfa-qr").replaceChildren();
  $("mfa-secret").textContent = "";
  hideRecoveryCodes();
  mfaSay("");
}

function startEnrolment() {
  resetMfaPanel();
  $("mfa-enable").hidden = true;
  $("mfa-start-form").hidden = false;
  $("mfa-password").focus();
}

function cancelEnrolment() {
  resetMfaPanel();
  $("mfa-enable").hidden = $("mfa-status").dataset.on === "true";
}

// Runs one request from a form with its submit buttons disabled; a network failure is said in the panel.
async function busy(form, work) {
  const buttons = form.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  try {
    await work();
  } catch {
    mfaSay("Could not reach authsvc: try again.", "error");
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

async function beginEnrolment(event) {
  event.preventDefault();
  await busy($("mfa-start-form"), async () => {
    const password = $("mfa-password").value;
    $("mfa-password").value = "";
    const response = await sendJson("/api/auth/mfa/totp", "POST", { current_password: password });
    const body = await readBody(response);
    if (!response.ok) {
      mfaSay(reason(body, response.status), "error");
      return;
    }
    const qr = qrCode(body.qr_svg);
    $("mfa-qr").replaceChildren(qr || "The QR code could not be shown: type the key instead.");
    // Groups of four are easier to type; authenticator apps ignore the spaces.
    $("mfa-secret").textContent = String(body.secret).replace(/(.{4})(?=.)/g, "$1 ");
    $("mfa-start-form").hidden = true;
    $("mfa-setup").hidden = false;
    mfaSay("");
    $("mfa-confirm-code").focus();
  });
}

const SVG_NS = "http://www.w3.org/2000/svg";
const QR_ELEMENTS = new Set(["svg", "g", "path", "rect", "title", "desc"]);
const QR_ATTRIBUTES = new Set(["xmlns", "width", "height", "viewBox", "class", "transform", "stroke",
  "stroke-width", "fill", "d", "x", "y", "shape-rendering"]);

// The enrolment's QR code, as an <svg> element, or null. The server's markup is inline SVG without
// an xmlns (no standalone SVG document: as image/svg+xml it would parse into an unrendered element),
// so it is parsed as HTML parses inline SVG, in DOMParser's inert document (no script runs, nothing
// loads), and kept only if every element and attribute is a plain drawing one: no <script>, no
// <foreignObject>, no on* handler, no href.
function qrCode(markup) {
  const parsed = new DOMParser().parseFromString(String(markup), "text/html").body;
  const svg = parsed.firstElementChild;
  if (parsed.childElementCount !== 1 || svg.namespaceURI !== SVG_NS || svg.localName !== "svg") return null;
  for (const element of [svg, ...svg.querySelectorAll("*")]) {
    if (element.namespaceURI !== SVG_NS || !QR_ELEMENTS.has(element.localName)) return null;
    if ([...element.attributes].some((attribute) => !QR_ATTRIBUTES.has(attribute.name))) return null;
  }
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code for your authenticator app");
  return document.importNode(svg, true);
}

async function confirmEnrolment(event) {
  event.preventDefault();
  await busy($("mfa-confirm-form"), async () => {
    const code = $("mfa-confirm-code").value;
    const response = await sendJson("/api/auth/mfa/totp/confirm", "POST", { code });
    const body = await readBody(response);
    if (!response.ok) {
      const notValid = "That code is not valid: try the one the app shows now.";
      mfaSay(body.code === "invalid_code" ? notValid : reason(body, response.status), "error");
      $("mfa-confirm-code").select();
      return;
    }
    resetMfaPanel();
    showRecoveryCodes(body.recovery_codes);
    mfaSay("The second factor is on: the next sign-in asks for a code.");
    await showWhoami();
  });
}

function showRecoveryCodes(codes) {
  state.recovery = codes.map(String);
  $("recovery-codes").replaceChildren(
    ...state.recovery.map((code) => {
      const item = document.createElement("li");
      const text = document.createElement("code");
      text.textContent = code;
      item.append(text);
      return item;
    }),
  );
  $("copy-status").textContent = "";
  $("recovery").hidden = false;
}

function hideRecoveryCodes() {
  state.recovery = [];
  $("recovery-codes").replaceChildren();
  $("copy-status").textContent = "";
  $("recovery").hidden = true;
}

async function copyRecoveryCodes() {
  try {
    await navigator.clipboard.writeText(state.recovery.join("\n") + "\n");
    $("copy-status").textContent = "Copied";
  } catch {
    $("copy-status").textContent = "Could not copy: select the codes and copy them yourself.";
  }
}

const MANAGE_REFUSALS = {
  invalid_code: "That code is not valid.",
  // A session from before the factor was turned on (the one that turned it on, say) is aal 1.
  aal2_required: "This session was signed in with the password alone: sign out, and sign in with your "
    + "second factor first.",
};

// One code, then "Turn off" or "New recovery codes", whichever button sent the form.
async function manageFactor(event) {
  event.preventDefault();
  const action = event.submitter ? event.submitter.value : "regenerate";
  await busy($("mfa-manage"), async () => {
    const code = $("mfa-manage-code").value;
    const response =
      action === "disable"
        ? await sendJson("/api/auth/mfa/totp", "DELETE", { code })
        : await sendJson("/api/auth/mfa/recovery-codes", "POST", { code });
    const body = await readBody(response);
    if (!response.ok) {
      mfaSay(MANAGE_REFUSALS[body.code] || reason(body, response.status), "error");
      return;
    }
    resetMfaPanel();
    if (action === "disable") {
      mfaSay("The second factor is off: signing in needs only the password.");
    } else {
      showRecoveryCodes(body.recovery_codes);
      mfaSay("New recovery codes: the old ones no longer work.");
    }
    await showWhoami();
  });
}

// "3 minutes ago", "yesterday": what a person reads, with the exact instant as a tooltip.
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60], ["second", 1]];

function humanTime(iso) {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const [unit, size] = UNITS.find(([, size]) => Math.abs(seconds) >= size) || UNITS[UNITS.length - 1];
  return relative.format(Math.round(seconds / size), unit);
}

function timeElement(iso) {
  const time = document.createElement("time");
  time.dateTime = iso;
  time.title = new Date(iso).toLocaleString();
  time.textContent = humanTime(iso);
  return time;
}

function sessionItem(s) {
  const li = document.createElement("li");
  li.append(
    `${s.current ? "this device" : "another device"} · ${s.user_agent || "unknown browser"} · signed in `,
    timeElement(s.created_at),
    " · last used ",
    timeElement(s.last_used_at),
  );
  if (!s.current) {
    const end = document.createElement("button");
    end.type = "button";
    end.className = "end-session";
    end.textContent = "Sign this device out";
    end.addEventListener("click", () => endSession(s.id));
    li.append(" ", end);
  }
  return li;
}

async function listSessions() {
  const response = await authorized("/api/auth/sessions");
  if (!response.ok) return;
  $("session-list").replaceChildren(...(await response.json()).map(sessionItem));
}

async function endSession(id) {
  const response = await authorized("/api/auth/sessions/" + encodeURIComponent(id), { method: "DELETE" });
  $("error").textContent = response.ok ? "" : "could not end that session: " + response.status;
  await listSessions();
}

async function register(event) {
  event.preventDefault();
  const response = await fetch("/api/auth/register", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      username: $("new-username").value,
      email: $("new-email").value,
      password: $("new-password").value,
    }),
  });
  const body = await readBody(response);
  if (!response.ok) {
    complain(reason(body, response.status));
    return;
  }
  $("new-password").value = "";
  $("username").value = body.username;
  // Not "a verification link is on its way": with FLASK_EMAIL_VERIFICATION=off none is, and the
  // answer cannot tell. Signed in, the page shows whether the address is verified, and a resend.
  say(`Account ${body.username} created: sign in above.`);
  $("password").focus();
}

async function forgotPassword(event) {
  event.preventDefault();
  const button = $("forgot-form").querySelector("button");
  button.disabled = true;
  try {
    const response = await postJson("/api/auth/password/forgot", { email: $("forgot-email").value });
    const body = await readBody(response);
    if (response.ok) say(body.message);
    else complain(reason(body, response.status));
  } catch {
    complain("Could not reach authsvc: try again.");
  } finally {
    button.disabled = false;
  }
}

const LINK_PANELS = { reset: "reset-form", verify: "verify-panel", email: "email-panel" };
const INVALID_LINK = "This link is invalid or has expired.";

// Reads #reset=, #verify= or #email= once, and drops it from the address bar and history.
function readLink() {
  const match = /^#(reset|verify|email)=(.*)$/.exec(location.hash);
  if (!match) return;
  history.replaceState(history.state, "", location.pathname + location.search);
  const [, kind, token] = match;
  // The tokens are URL-safe base64; anything else was mangled on the way and cannot be one.
  state.link = /^[A-Za-z0-9_-]+$/.test(token) ? { kind, token } : null;
  for (const [name, id] of Object.entries(LINK_PANELS)) $(id).hidden = name !== kind;
  $("link").hidden = !state.link;
  linkStatus(state.link ? "" : INVALID_LINK, "error");
  if (state.link && kind === "reset") $("reset-password").focus();
}

function linkStatus(message, tone) {
  $("link-status").textContent = message;
  $("link-status").dataset.tone = tone;
}

// The link is spent (or dead): forget its token and put the outcome in its place.
function linkDone(message, tone) {
  state.link = null;
  $("link").hidden = true;
  $("reset-password").value = "";
  linkStatus(message, tone);
}

// POSTs the link's token once per click; the control stays disabled until the answer, so a double
// click cannot spend the token and then report the second try's invalid_link over the success.
async function spendLink(path, extra, control) {
  if (!state.link) return null;
  control.disabled = true;
  try {
    const response = await postJson(path, Object.assign({ token: state.link.token }, extra));
    const body = await readBody(response);
    if (response.ok) return body;
    if (body.code === "invalid_link") linkDone(INVALID_LINK, "error");
    else if (body.code === "email_taken") linkDone(body.detail, "error");
    else linkStatus(reason(body, response.status), "error"); // e.g. a refused password: try another
  } catch {
    linkStatus("Could not reach authsvc: try again.", "error");
  } finally {
    control.disabled = false;
  }
  return null;
}

async function resetPassword(event) {
  event.preventDefault();
  const submit = $("reset-form").querySelector("button");
  const password = $("reset-password").value;
  const body = await spendLink("/api/auth/password/reset", { new_password: password }, submit);
  if (!body) return;
  linkDone("Password changed: sign in with your new password.", "ok");
  // The reset revoked every session of that user: if this page held one, show it signed out.
  if (state.access && (await refresh())) await showWhoami();
  $("username").focus();
}

async function verifyAddress() {
  const user = await spendLink("/api/auth/email/verify", {}, $("verify-button"));
  if (!user) return;
  linkDone("Address verified: " + user.email, "ok");
  if (state.access) await showWhoami();
}

async function confirmEmail() {
  const user = await spendLink("/api/auth/email/confirm", {}, $("email-confirm-button"));
  if (!user) return;
  linkDone("Email changed to " + user.email, "ok");
  if (state.access) await showWhoami();
}

async function signOut() {
  await authorized("/api/auth/logout", { method: "POST" }); // refreshes first if the token went stale
  signedOut();
  linkStatus("", "");
}

// For tests and the curious: make the in-memory token stale so the next call needs a refresh.
window.authsvcDemo = { expireNow() { state.access = "expired.token.value"; }, state };

$("login").addEventListener("submit", signIn);
$("mfa-form").addEventListener("submit", verifyCode);
$("mfa-cancel").addEventListener("click", cancelCodeStep);
$("mfa-enable").addEventListener("click", startEnrolment);
$("mfa-start-form").addEventListener("submit", beginEnrolment);
$("mfa-confirm-form").addEventListener("submit", confirmEnrolment);
for (const button of document.querySelectorAll(".mfa-cancel")) {
  button.addEventListener("click", cancelEnrolment);
}
$("copy-recovery-codes").addEventListener("click", copyRecoveryCodes);
$("recovery-done").addEventListener("click", hideRecoveryCodes);
$("mfa-manage").addEventListener("submit", manageFactor);
$("register").addEventListener("submit", register);
$("whoami").addEventListener("click", showWhoami);
$("sessions").addEventListener("click", listSessions);
$("logout").addEventListener("click", signOut);
$("forgot-form").addEventListener("submit", forgotPassword);
$("resend-verification").addEventListener("click", resendVerification);
$("reset-form").addEventListener("submit", resetPassword);
$("verify-button").addEventListener("click", verifyAddress);
$("email-confirm-button").addEventListener("click", confirmEmail);
window.addEventListener("hashchange", readLink); // a link pasted into a tab already on /demo
readLink();
refresh().then((ok) => (ok ? showWhoami() : signedOut()));
