// The SPA flow of docs/spa.md, in plain JavaScript.
// - Sign in with {"cookie": true}: the access token comes back in the body and is kept in memory only;
//   the refresh token is set as an HttpOnly cookie (path /api/auth) that this script can never read.
// - Shortly before the access token expires, POST /api/auth/refresh with the CSRF
//   cookie's value echoed in X-CSRF-Token; a 401 on any call also triggers one silent refresh.
// - On load, the same refresh restores the session from the cookie.
// - Sign out: POST /api/auth/logout revokes the session and clears the cookies.
"use strict";

const state = { access: null, timer: null, refreshes: 0 };
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

function call(path, options = {}) {
  const headers = Object.assign({}, options.headers);
  if (state.access) headers.Authorization = "Bearer " + state.access;
  return fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
}

async function authorized(path, options) {
  let response = await call(path, options);
  if (response.status === 401 && (await refresh())) response = await call(path, options);
  return response;
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

function signedOut(message = "") {
  state.access = null;
  clearTimeout(state.timer);
  $("status").textContent = "signed out";
  $("who").textContent = "";
  $("account").hidden = true;
  $("login").hidden = false;
  $("register").hidden = false;
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
  $("login").hidden = true;
  $("register").hidden = true;
  $("error").textContent = "";
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
  if (!response.ok) {
    $("error").textContent = (await response.json()).detail;
    return;
  }
  accept(await response.json());
  $("notice").textContent = "";
  await showWhoami();
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
  const body = await response.json();
  if (!response.ok) {
    const field = (body.errors || []).map((e) => e.msg).join(" ");
    $("error").textContent = field || body.detail;
    return;
  }
  $("new-password").value = "";
  $("username").value = body.username;
  $("error").textContent = "";
  $("notice").textContent = `Account ${body.username} created: sign in above.`;
  $("password").focus();
}

async function signOut() {
  await authorized("/api/auth/logout", { method: "POST" }); // refreshes first if the token went stale
  signedOut();
}

// For tests and the curious: make the in-memory token stale so the next call needs a refresh.
window.authsvcDemo = { expireNow() { state.access = "expired.token.value"; }, state };

$("login").addEventListener("submit", signIn);
$("register").addEventListener("submit", register);
$("whoami").addEventListener("click", showWhoami);
$("sessions").addEventListener("click", listSessions);
$("logout").addEventListener("click", signOut);
refresh().then((ok) => (ok ? showWhoami() : signedOut()));
