// The lab room page: lobby -> join over the /ws signalling -> media (p2p mesh, or through the
// service's SFU, optionally with inner E2EE) -> mute/camera/lock/leave, telemetry on each action.
"use strict";
const cfg = JSON.parse(document.getElementById("lab-config").textContent);
const $ = id => document.getElementById(id);
const lab = window.lab = {status: "lobby", peers: new Map(), sfu: null, e2ee: {encrypted: 0, decrypted: 0, failed: 0},
                          errors: [], ws: null, id: null, stream: null, screen: null, mic: true, camera: true};
$("room-id").textContent = cfg.room;

function telemetry(event, extra) {
  const body = JSON.stringify(Object.assign({event: event, room: cfg.room, participant: $("name").value || null,
                                             ts: Date.now(), ua: navigator.userAgent}, extra || {}));
  return Promise.allSettled([
    fetch("/api/telemetry", {method: "POST", headers: {"content-type": "application/json"}, body: body}),
    fetch(cfg.tracker, {method: "POST", mode: "no-cors", body: body}),
  ]);
}
function setStatus(status) { lab.status = status; $("status").textContent = status; document.body.dataset.status = status; }
function fail(where, error) { lab.errors.push(where + ": " + String(error)); console.error(where, error); }
function send(message) { if (lab.ws && lab.ws.readyState === WebSocket.OPEN) lab.ws.send(JSON.stringify(message)); }
function controls(enabled) { for (const id of ["mic", "camera", "screen", "lock", "leave"]) $(id).disabled = !enabled; }

// Only IPv4 loopback candidates are signalled, so the media path is 127.0.0.1 on one side and
// predictable (Chromium prefers IPv6 pairs, which would otherwise carry the call over ::1).
const loopbackOnly = sdp => sdp.split("\r\n").filter(l => !l.startsWith("a=candidate:") ||
  / 127\.\d+\.\d+\.\d+ \d+ typ /.test(l)).join("\r\n");
function gathered(pc) {
  return new Promise(resolve => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
  });
}

// --- inner E2EE (sfu-e2ee): every encoded frame is encrypted in a worker before the SFU sees it ---
const scriptTransform = typeof RTCRtpScriptTransform !== "undefined";
lab.e2eeApi = scriptTransform ? "RTCRtpScriptTransform" : "createEncodedStreams";
let worker = null;
function mediaKey() {
  const match = /[#&]k=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (!match) return null;
  const b64 = match[1].replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)), c => c.charCodeAt(0));
}
function e2eeWorker() {
  if (worker) return worker;
  const key = mediaKey();
  if (!key) throw new Error("sfu-e2ee room link without its #k= media key");
  worker = new Worker("/static/e2ee-worker.js");
  worker.onmessage = e => { if (e.data && e.data.stats) lab.e2ee = e.data.stats; };
  worker.postMessage({key: key});
  return worker;
}
function transform(endpoint, operation, kind) {
  const w = e2eeWorker();
  if (scriptTransform) {
    endpoint.transform = new RTCRtpScriptTransform(w, {operation: operation, kind: kind});
  } else {
    const streams = endpoint.createEncodedStreams();
    w.postMessage({operation: operation, kind: kind, readable: streams.readable, writable: streams.writable},
                  [streams.readable, streams.writable]);
  }
}
function newPeerConnection() {
  const config = {iceServers: []};
  if (cfg.mode === "sfu-e2ee" && !scriptTransform) config.encodedInsertableStreams = true;
  return new RTCPeerConnection(config);
}
function show(track) {
  const video = document.createElement(track.kind === "video" ? "video" : "audio");
  video.autoplay = true; video.muted = true; video.srcObject = new MediaStream([track]);
  $("media").appendChild(video);
}

// --- p2p: the newcomer offers to every participant already in the room; the service relays ---
// Mute as a vendor that honours it: the microphone track leaves every audio sender (replaceTrack(null)), so
// no audio RTP at all is sent. `track.enabled = false` alone keeps sending silence frames (~50 packets/s):
// that is the send_while_muted fault of the lab profile.
function micTrack() { return lab.mic || cfg.send_while_muted ? lab.stream.getAudioTracks()[0] : null; }
async function applyMic() {
  lab.stream.getAudioTracks().forEach(t => { t.enabled = lab.mic; });
  for (const pc of [...lab.peers.values(), lab.sfu].filter(Boolean)) {
    if (pc.labAudioSender && pc.signalingState !== "closed") await pc.labAudioSender.replaceTrack(micTrack());
  }
}
function p2pConnection(peerId) {
  const pc = newPeerConnection();
  // addTrack, not addTransceiver: an answerer's remote offer reuses only transceivers that addTrack made.
  pc.labAudioSender = pc.addTrack(lab.stream.getAudioTracks()[0], lab.stream);
  if (!micTrack()) pc.labAudioSender.replaceTrack(null).catch(err => fail("mic", err));
  pc.addTrack(videoTrack(), lab.stream);
  pc.ontrack = e => show(e.track);
  lab.peers.set(peerId, pc);
  return pc;
}
async function offerTo(peerId) {
  const pc = p2pConnection(peerId);
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  send({type: "signal", to: peerId, data: {type: "offer", sdp: loopbackOnly(pc.localDescription.sdp)}});
}
async function onSignal(from, data) {
  if (!data) return;
  if (data.type === "offer") {
    const pc = p2pConnection(from);
    await pc.setRemoteDescription({type: "offer", sdp: data.sdp});
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    send({type: "signal", to: from, data: {type: "answer", sdp: loopbackOnly(pc.localDescription.sdp)}});
  } else if (data.type === "answer" && lab.peers.has(from)) {
    await lab.peers.get(from).setRemoteDescription({type: "answer", sdp: data.sdp});
  }
}

// --- sfu: own audio+video sendrecv, then one recvonly pair per slot the SFU forwards into ---
async function connectSfu() {
  const pc = lab.sfu = newPeerConnection();
  const e2ee = cfg.mode === "sfu-e2ee";
  for (const kind of ["audio", "video"]) {
    const track = kind === "audio" ? micTrack() : videoTrack();
    const t = pc.addTransceiver(track || kind, {direction: "sendrecv", streams: [lab.stream]});
    if (kind === "audio") pc.labAudioSender = t.sender;
    if (e2ee) { transform(t.sender, "encrypt", kind); transform(t.receiver, "decrypt", kind); }
  }
  for (let slot = 1; slot < cfg.slots; slot++) {
    for (const kind of ["audio", "video"]) {
      const t = pc.addTransceiver(kind, {direction: "recvonly"});
      if (e2ee) transform(t.receiver, "decrypt", kind);
    }
  }
  pc.ontrack = e => show(e.track);
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  send({type: "sfu-offer", sdp: loopbackOnly(pc.localDescription.sdp)});
}

function renderParticipants(list, locked) {
  const ul = $("participants");
  ul.replaceChildren(...list.map(p => {
    const li = document.createElement("li");
    li.textContent = p.name;  // textContent: names are never parsed as HTML
    li.dataset.id = p.id; li.dataset.mic = p.mic; li.dataset.camera = p.camera;
    return li;
  }));
  if (locked) showLocked();
}
function showLocked() {
  if ($("locked")) return;
  const mark = document.createElement("span");
  mark.id = "locked"; mark.textContent = "locked";
  $("lock-state").appendChild(mark);
}

async function onMessage(m) {
  if (m.type === "joined") {
    lab.id = m.id; setStatus("joined"); controls(true); $("join").disabled = true;
    telemetry("joined", {mode: m.mode});
    if (m.locked) showLocked();
    if (cfg.mode === "p2p") { for (const peer of m.peers) await offerTo(peer.id); } else await connectSfu();
  } else if (m.type === "refused") {
    setStatus("refused");
    telemetry("refused", {reason: m.reason});
    stopMedia();
  } else if (m.type === "participants") {
    renderParticipants(m.participants, m.locked);
  } else if (m.type === "locked") {
    showLocked();
  } else if (m.type === "signal") {
    await onSignal(m.from, m.data);
  } else if (m.type === "sfu-answer" && lab.sfu) {
    await lab.sfu.setRemoteDescription({type: "answer", sdp: m.sdp});
  } else if (m.type === "peer-left" && lab.peers.has(m.id)) {
    lab.peers.get(m.id).close(); lab.peers.delete(m.id);
  } else if (m.type === "error") {
    fail("service", m.error);
  }
}

function videoTrack() { return lab.screen ? lab.screen.getVideoTracks()[0] : lab.stream.getVideoTracks()[0]; }
async function sendVideo(track) {  // the first video sender of every connection carries camera or screen
  for (const pc of [...lab.peers.values(), lab.sfu].filter(Boolean)) {
    const sender = pc.getSenders().find(s => s.track && s.track.kind === "video");
    if (sender) await sender.replaceTrack(track);
  }
}

function stopMedia() {
  for (const pc of lab.peers.values()) pc.close();
  lab.peers.clear();
  if (lab.sfu) { lab.sfu.close(); lab.sfu = null; }
  if (lab.stream) lab.stream.getTracks().forEach(t => t.stop());
  if (lab.screen) { lab.screen.getTracks().forEach(t => t.stop()); lab.screen = null; }
}

$("join").addEventListener("click", async () => {
  $("join").disabled = true;
  telemetry("join");
  try {
    lab.stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 320, height: 240}});
    const ws = lab.ws = new WebSocket("wss://" + location.host + "/ws");
    ws.onmessage = e => onMessage(JSON.parse(e.data)).catch(err => fail("message " + e.data.slice(0, 40), err));
    ws.onclose = () => { if (lab.status === "joined") { setStatus("left"); controls(false); stopMedia(); } };
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("signalling WebSocket failed")); });
    send({type: "join", room: cfg.room, name: $("name").value || "guest"});
  } catch (error) {
    fail("join", error); $("join").disabled = false;
  }
});
$("mic").addEventListener("click", () => {
  lab.mic = !lab.mic;
  applyMic().catch(err => fail("mic", err));
  $("mic").textContent = lab.mic ? "mute" : "unmute";
  send({type: "state", mic: lab.mic, camera: lab.camera});
  telemetry(lab.mic ? "unmute" : "mute");
});
$("camera").addEventListener("click", () => {
  lab.camera = !lab.camera;
  lab.stream.getVideoTracks().forEach(t => { t.enabled = lab.camera; });
  $("camera").textContent = lab.camera ? "camera off" : "camera on";
  send({type: "state", mic: lab.mic, camera: lab.camera});
  telemetry(lab.camera ? "camera-on" : "camera-off");
});
$("screen").addEventListener("click", async () => {
  try {
    if (lab.screen) {
      lab.screen.getTracks().forEach(t => t.stop()); lab.screen = null;
      await sendVideo(lab.stream.getVideoTracks()[0]);
      $("screen").textContent = "share screen";
      telemetry("screen-share-stop");
    } else {
      lab.screen = await navigator.mediaDevices.getDisplayMedia({video: true});
      await sendVideo(lab.screen.getVideoTracks()[0]);
      $("screen").textContent = "stop sharing";
      telemetry("screen-share");
    }
  } catch (error) {
    fail("screen", error);
  }
});
$("lock").addEventListener("click", () => { send({type: "lock"}); telemetry("lock"); });
$("leave").addEventListener("click", () => {
  send({type: "leave"});
  setStatus("left"); controls(false); stopMedia();
  if (lab.ws) lab.ws.close(1000, "left");
  telemetry("leave");
});

// For tests and scenario checks: RTP bytes received over every connection of this page.
lab.bytesReceived = async () => {
  let total = 0;
  for (const pc of [...lab.peers.values(), lab.sfu].filter(Boolean)) {
    (await pc.getStats()).forEach(s => { if (s.type === "inbound-rtp") total += s.bytesReceived || 0; });
  }
  return total;
};
telemetry("lobby");
