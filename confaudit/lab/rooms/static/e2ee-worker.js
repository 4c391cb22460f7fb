// Inner E2EE of the lab (sfu-e2ee): AES-GCM over each encoded frame, with the bytes an SFU needs
// left in clear as Jitsi/Google schemes do (VP8: 10 bytes of a keyframe, 3 of a delta frame;
// Opus: the TOC byte), authenticated as additional data. Frame = clear | ciphertext+tag | IV (12).
"use strict";
let key = null;
const stats = {encrypted: 0, decrypted: 0, failed: 0};
let reported = 0;
function report() {
  const now = Date.now();
  if (now - reported > 200) { reported = now; self.postMessage({stats: Object.assign({}, stats)}); }
}
function clearBytes(kind, frame) {
  if (kind === "audio") return 1;
  return frame.type === "key" ? 10 : 3;
}
async function encrypt(kind, frame, controller) {
  const data = new Uint8Array(frame.data);
  const n = Math.min(clearBytes(kind, frame), data.length);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({name: "AES-GCM", iv: iv, additionalData: data.subarray(0, n)},
                                                             key, data.subarray(n)));
  const out = new Uint8Array(n + sealed.length + iv.length);
  out.set(data.subarray(0, n)); out.set(sealed, n); out.set(iv, n + sealed.length);
  frame.data = out.buffer;
  stats.encrypted++;
  controller.enqueue(frame);
}
async function decrypt(kind, frame, controller) {
  const data = new Uint8Array(frame.data);
  const n = Math.min(clearBytes(kind, frame), data.length);
  if (data.length < n + 16 + 12) { stats.failed++; return; }
  try {
    const plain = new Uint8Array(await crypto.subtle.decrypt(
      {name: "AES-GCM", iv: data.subarray(data.length - 12), additionalData: data.subarray(0, n)},
      key, data.subarray(n, data.length - 12)));
    const out = new Uint8Array(n + plain.length);
    out.set(data.subarray(0, n)); out.set(plain, n);
    frame.data = out.buffer;
    stats.decrypted++;
    controller.enqueue(frame);
  } catch (error) {
    stats.failed++;  // not ours (wrong key): dropped, never rendered
  }
}
function pipe(readable, writable, operation, kind) {
  const step = operation === "encrypt" ? encrypt : decrypt;
  readable.pipeThrough(new TransformStream({
    transform: async (frame, controller) => {
      if (key === null) await keyReady;
      await step(kind, frame, controller);
      report();
    },
  })).pipeTo(writable);
}
let setKey;
const keyReady = new Promise(resolve => { setKey = resolve; });
self.onmessage = async e => {
  if (e.data.key) {
    key = await crypto.subtle.importKey("raw", e.data.key, "AES-GCM", false, ["encrypt", "decrypt"]);
    setKey();
  } else if (e.data.readable) {  // Chromium's createEncodedStreams path
    pipe(e.data.readable, e.data.writable, e.data.operation, e.data.kind);
  }
};
self.onrtctransform = e => {  // RTCRtpScriptTransform path
  const t = e.transformer;
  pipe(t.readable, t.writable, t.options.operation, t.options.kind);
};
