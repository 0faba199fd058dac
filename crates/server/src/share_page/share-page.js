// The recipient's page of a Coffer share (docs/format.md, "Shares").
// The share key is the link's fragment (after "#"), which the browser never
// sends; everything is decrypted here with WebCrypto AES-256-GCM and saved
// to disk — streamed where the browser can (showSaveFilePicker), otherwise
// assembled into one Blob per file.
"use strict";

(() => {
  const CHUNK = 1024 * 1024;
  const SEALED = CHUNK + 16;
  const MANIFEST_STREAM = 0xffffffff;
  const encoder = new TextEncoder();
  const $ = (id) => document.getElementById(id);

  const main = document.querySelector("main");
  const shareId = main.dataset.share;
  const api = `../v1/s/${shareId}`;
  let key = null;
  let ticket = null;
  let manifest = null;

  class Tampered extends Error {}
  class Gone extends Error {
    constructor(reason, message) {
      super(message);
      this.reason = reason;
    }
  }
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `the service answered ${status}`);
      this.status = status;
      this.code = body && body.error && body.error.code;
      this.retryAfter = body && body.error && body.error.retry_after;
    }
  }

  function show(section) {
    for (const s of main.querySelectorAll("section")) s.hidden = s.id !== section;
  }

  function fail(title, text) {
    $("heading").textContent = "Shared files";
    $("error-title").textContent = title;
    $("error-text").textContent = text;
    document.title = `${title} — Coffer`;
    show("error");
  }

  const GONE = {
    revoked: ["This share was revoked", "The person who shared these files has stopped sharing them. Ask them to share the files again."],
    expired: ["This share has expired", "The files are no longer available from this link. Ask the person who shared them for a new link."],
    exhausted: ["This share's download limit was reached", "The files were downloaded as many times as the person who shared them allowed. Ask them for a new link."],
  };

  function failWith(err) {
    if (err instanceof Gone) {
      const [title, text] = GONE[err.reason] || ["This share has ended", err.message];
      fail(title, text);
    } else if (err instanceof Tampered) {
      fail(
        "These files cannot be decrypted",
        "The key in this link does not open them, or the stored data was changed or damaged. " +
          "Check that you copied the whole link, including the part after “#”.",
      );
    } else if (err instanceof ApiError && err.status === 404) {
      fail("Nothing to download here", "This link is not valid, or the share no longer exists.");
    } else {
      fail("The download failed", `${err.message}. Reload the page to try again.`);
    }
  }

  async function apiError(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.status === 410 && body && body.error) {
      return new Gone(body.error.reason, body.error.message);
    }
    return new ApiError(response.status, body);
  }

  function decodeKey(text) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(text)) return null;
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=");
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.length === 32 ? bytes : null;
  }

  // The nonce and associated data bind each chunk to this share, its
  // stream (file index, or the manifest), its position and whether it is
  // the last one, so reordering, swapping or truncating fails.
  function nonce(stream, chunk, last) {
    const n = new Uint8Array(12);
    const view = new DataView(n.buffer);
    view.setUint32(0, stream);
    view.setUint32(4, chunk);
    n[8] = last ? 1 : 0;
    return n;
  }

  function associatedData(stream, chunk, last) {
    const head = encoder.encode(`coffer-share-v1\u0000${shareId}`);
    const out = new Uint8Array(head.length + 9);
    out.set(head);
    const view = new DataView(out.buffer);
    view.setUint32(head.length, stream);
    view.setUint32(head.length + 4, chunk);
    out[head.length + 8] = last ? 1 : 0;
    return out;
  }

  async function openChunk(stream, chunk, last, sealed) {
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: nonce(stream, chunk, last), additionalData: associatedData(stream, chunk, last), tagLength: 128 },
        key,
        sealed,
      );
      return new Uint8Array(plain);
    } catch (_) {
      throw new Tampered();
    }
  }

  // Bytes as they arrive, taken out in sealed chunks.
  class ByteQueue {
    constructor() {
      this.pieces = [];
      this.length = 0;
    }
    push(bytes) {
      if (bytes.length) {
        this.pieces.push(bytes);
        this.length += bytes.length;
      }
    }
    take(n) {
      const out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const piece = this.pieces[0];
        const k = Math.min(piece.length, n - at);
        out.set(piece.subarray(0, k), at);
        at += k;
        if (k === piece.length) this.pieces.shift();
        else this.pieces[0] = piece.subarray(k);
      }
      this.length -= n;
      return out;
    }
  }

  // Plaintext chunks of one stream. A chunk is the last one exactly when no
  // bytes follow it, and it must then say so.
  async function* decryptStream(stream, source) {
    const queue = new ByteQueue();
    let index = 0;
    for await (const bytes of source) {
      queue.push(bytes);
      while (queue.length > SEALED) yield await openChunk(stream, index++, false, queue.take(SEALED));
    }
    if (queue.length < 16) throw new Tampered();
    yield await openChunk(stream, index, true, queue.take(queue.length));
  }

  async function* download(path, onBytes) {
    const response = await fetch(`${api}/${path}`, {
      headers: { "Coffer-Share-Ticket": ticket },
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
    if (!response.ok) throw await apiError(response);
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (onBytes) onBytes(value.length);
      yield value;
    }
  }

  async function* fileParts(file, onBytes) {
    for (let p = file.first_part; p < file.first_part + file.parts; p++) yield* download(`parts/${p}`, onBytes);
  }

  function sealedSize(size) {
    const chunks = Math.max(1, Math.ceil(size / CHUNK));
    return size + 16 * chunks;
  }

  function humanBytes(n) {
    const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
  }

  function baseName(path) {
    const name = String(path).split("/").filter(Boolean).pop() || "file";
    return name.replace(/[\\:*?"<>|\u0000-\u001f]/g, "_");
  }

  async function readManifest() {
    const pieces = [];
    for await (const chunk of decryptStream(MANIFEST_STREAM, download("manifest"))) pieces.push(chunk);
    const text = new TextDecoder("utf-8", { fatal: true }).decode(await new Blob(pieces).arrayBuffer());
    const parsed = JSON.parse(text);
    if (parsed.format !== "coffer-share/1" || !Array.isArray(parsed.files)) throw new Tampered();
    return parsed;
  }

  // Writes one file where the person chooses: streamed to disk when the
  // browser offers a save picker, else one Blob downloaded at the end.
  async function saveFile(index, row) {
    const file = manifest.files[index];
    const name = baseName(file.path);
    const progress = row.querySelector("progress");
    progress.hidden = false;
    progress.max = sealedSize(file.size) || 1;
    progress.value = 0;
    const chunks = decryptStream(index, fileParts(file, (n) => (progress.value += n)));
    let written = 0;
    if (typeof window.showSaveFilePicker === "function") {
      let handle;
      try {
        handle = await window.showSaveFilePicker({ suggestedName: name });
      } catch (err) {
        if (err && err.name === "AbortError") return false;
        throw err;
      }
      const writable = await handle.createWritable();
      try {
        for await (const chunk of chunks) {
          written += chunk.length;
          await writable.write(chunk);
        }
        if (written !== file.size) throw new Tampered();
        await writable.close();
      } catch (err) {
        await writable.abort().catch(() => {});
        throw err;
      }
    } else {
      const pieces = [];
      for await (const chunk of chunks) {
        written += chunk.length;
        pieces.push(chunk);
      }
      if (written !== file.size) throw new Tampered();
      const url = URL.createObjectURL(new Blob(pieces, { type: "application/octet-stream" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    }
    row.querySelector(".done").hidden = false;
    return true;
  }

  let busy = false;
  async function guarded(work) {
    if (busy) return;
    busy = true;
    for (const b of main.querySelectorAll("button")) b.disabled = true;
    try {
      await work();
    } catch (err) {
      failWith(err);
    } finally {
      busy = false;
      for (const b of main.querySelectorAll("button")) b.disabled = false;
    }
  }

  function showFiles() {
    const list = $("file-list");
    list.replaceChildren();
    manifest.files.forEach((file, index) => {
      const row = document.createElement("li");
      row.dataset.index = String(index);
      const path = document.createElement("span");
      path.className = "path";
      path.textContent = file.path;
      const size = document.createElement("span");
      size.className = "size";
      size.textContent = humanBytes(file.size);
      const save = document.createElement("button");
      save.type = "button";
      save.className = "save";
      save.textContent = "Save";
      const progress = document.createElement("progress");
      progress.hidden = true;
      const done = document.createElement("span");
      done.className = "done";
      done.textContent = "Saved";
      done.hidden = true;
      row.append(path, size, save, progress, done);
      save.addEventListener("click", () => guarded(() => saveFile(index, row)));
      list.append(row);
    });
    const total = manifest.files.reduce((sum, f) => sum + f.size, 0);
    $("heading").textContent = manifest.name ? `Shared with you: ${manifest.name}` : "Shared with you";
    $("status").textContent = `${manifest.files.length} file${manifest.files.length === 1 ? "" : "s"}, ${humanBytes(total)}`;
    show("files");
  }

  $("save-all").addEventListener("click", () =>
    guarded(async () => {
      const rows = [...$("file-list").children];
      for (let i = 0; i < rows.length; i++) {
        $("status").textContent = `Saving ${i + 1} of ${rows.length}…`;
        if (!(await saveFile(i, rows[i]))) break;
      }
      $("status").textContent = "Done";
    }),
  );

  $("open-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const body = {};
      if (!$("password-row").hidden) body.password = $("password").value;
      const response = await fetch(`${api}/open`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
      });
      if (!response.ok) {
        const err = await apiError(response);
        if (err.code === "wrong_password") {
          $("open-error").textContent = "That password is wrong. Try again.";
          return;
        }
        if (err.code === "too_many_attempts") {
          $("open-error").textContent = `Too many wrong passwords. Try again in ${err.retryAfter || 60} seconds.`;
          return;
        }
        if (err.code === "invalid_input") {
          $("open-error").textContent = "Type the password you were given.";
          return;
        }
        throw err;
      }
      const opened = await response.json();
      ticket = opened.ticket;
      manifest = await readManifest();
      showFiles();
    });
  });

  async function start() {
    if (!window.crypto || !crypto.subtle) {
      fail("This browser cannot open the share", "It needs WebCrypto, which browsers offer on https:// pages. Open the link in a current browser.");
      return;
    }
    const fragment = location.hash.replace(/^#/, "");
    const raw = decodeKey(fragment);
    if (!raw) {
      // The mail from Coffer has the link without its key (the service
      // never has it); the sender sends the full link themselves.
      fail(
        "This link is incomplete",
        fragment
          ? "The key after “#” at the end of the link is damaged. Open the full link the sender sent you, copied whole; it ends in #…"
          : "The key that opens these files is missing. Open the full link the sender sent you; it ends in #…",
      );
      return;
    }
    key = await crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["decrypt"]);
    raw.fill(0);
    const response = await fetch(api, { cache: "no-store" });
    if (!response.ok) throw await apiError(response);
    const info = await response.json();
    const terms = [`${humanBytes(info.bytes)} encrypted`, `available until ${new Date(info.expires_at).toLocaleString()}`];
    if (info.downloads_left !== null && info.downloads_left !== undefined) {
      terms.push(`${info.downloads_left} download${info.downloads_left === 1 ? "" : "s"} left`);
    }
    $("summary").textContent = `Someone shared files with you through Coffer (${terms.join(", ")}).`;
    $("password-row").hidden = !info.password_required;
    show("open");
    if (info.password_required) $("password").focus();
  }

  start().catch(failWith);
})();
