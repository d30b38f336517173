// The SPA flow of authsvc's README, in plain JavaScript.
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
  await showWhoami();
}

async function listSessions() {
  const response = await authorized("/api/auth/sessions");
  if (!response.ok) return;
  const items = (await response.json()).map((s) => {
    const li = document.createElement("li");
    li.textContent = `${s.current ? "this device" : "other"} · ${s.user_agent || "unknown agent"} · since ${s.created_at}`;
    return li;
  });
  $("session-list").replaceChildren(...items);
}

async function signOut() {
  await authorized("/api/auth/logout", { method: "POST" }); // refreshes first if the token went stale
  signedOut();
}

// For tests and the curious: make the in-memory token stale so the next call needs a refresh.
window.authsvcDemo = { expireNow() { state.access = "expired.token.value"; }, state };

$("login").addEventListener("submit", signIn);
$("whoami").addEventListener("click", showWhoami);
$("sessions").addEventListener("click", listSessions);
$("logout").addEventListener("click", signOut);
refresh().then((ok) => (ok ? showWhoami() : signedOut()));
