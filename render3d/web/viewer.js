// render3d's page viewer: the scene's GLB (inline) in three.js, HTML overlays for title, legend, labels,
// colour bar and block info, and for a recording an epoch slider that swaps the feature-map textures.
// Everything it needs is in the page (no network); window.render3d exposes a few hooks for tests.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("r3d-data").textContent);
  const root = document.getElementById("r3d");
  const canvas = document.getElementById("r3d-canvas");
  const $ = (id) => document.getElementById(id);
  const api = { ready: false, epoch: data.frames.length ? data.frames.length - 1 : null };
  window.render3d = api;

  // --- three.js scene -------------------------------------------------------------------------------
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(data.background);
  const cam = data.camera;
  const focal = new THREE.Vector3(...cam.focal_point);
  const radius = Math.max(1e-6, new THREE.Vector3(...data.bounds[1]).distanceTo(new THREE.Vector3(...data.bounds[0])));
  const distance = new THREE.Vector3(...cam.position).distanceTo(focal);
  const camera = new THREE.PerspectiveCamera(cam.view_angle, 1, Math.max(distance, radius) * 1e-3,
                                             (distance + radius) * 20);
  camera.position.set(...cam.position);
  camera.up.set(...cam.view_up);
  const controls = new THREE.OrbitControls(camera, canvas);
  controls.target.copy(focal);
  controls.screenSpacePanning = true;
  controls.update();
  const home = { position: camera.position.clone(), target: focal.clone() };

  // --- overlays ---------------------------------------------------------------------------------------
  $("r3d-title").textContent = data.title;
  $("r3d-notes").textContent = data.notes.join("\n");
  const legend = $("r3d-legend");
  for (const [name, color] of data.legend) {
    const row = document.createElement("div");
    row.className = "r3d-legend-row";
    const swatch = document.createElement("span");
    swatch.className = "r3d-swatch";
    swatch.style.background = color;
    row.append(swatch, document.createTextNode(name));
    legend.append(row);
  }
  if (data.colorbar) {
    const bar = data.colorbar;
    $("r3d-colorbar-ramp").style.background = `linear-gradient(to right, ${bar.stops.join(", ")})`;
    const ticks = $("r3d-colorbar-ticks");
    for (const t of bar.ticks) {
      const span = document.createElement("span");
      span.textContent = t;
      ticks.append(span);
    }
    $("r3d-colorbar-title").textContent = bar.title;
  } else {
    $("r3d-colorbar").hidden = true;
  }

  const labelLayer = $("r3d-labels");
  const labels = data.labels.items.map(([text, x, y, z]) => {
    const el = document.createElement("div");
    el.className = "r3d-label";
    el.textContent = text;
    labelLayer.append(el);
    return { el, anchor: new THREE.Vector3(x, y, z), w: 0, h: 0 };
  });

  // --- feature maps and epochs --------------------------------------------------------------------------
  const fmaps = new Map();  // feature-map id -> mesh
  const frames = data.frames.map((frame) => {
    const textures = {};
    for (const [id, png] of Object.entries(frame.textures)) {
      const image = new Image();
      const texture = new THREE.Texture(image);
      texture.colorSpace = THREE.SRGBColorSpace;
      texture.magFilter = texture.minFilter = THREE.NearestFilter;
      texture.generateMipmaps = false;
      texture.flipY = false;  // glTF's UV convention, as the loaded textures
      image.src = "data:image/png;base64," + png;
      texture.decoded = image.decode().then(() => { texture.needsUpdate = true; });
      textures[id] = texture;
    }
    return { caption: frame.caption, textures };
  });

  function setEpoch(k) {
    if (!frames.length) return;
    k = Math.max(0, Math.min(frames.length - 1, Math.round(k)));
    const frame = frames[k];
    for (const [id, mesh] of fmaps) {
      const texture = frame.textures[id];
      if (texture) {
        mesh.material.map = texture;
        mesh.material.needsUpdate = true;
      }
    }
    $("r3d-caption").textContent = frame.caption;
    $("r3d-slider").value = String(k);
    api.epoch = k;
    requestRender();
  }

  // --- picking: the ray against each block's box ------------------------------------------------------------
  const boxes = data.blocks.lower.map((lo, i) => new THREE.Box3(new THREE.Vector3(...lo),
                                                               new THREE.Vector3(...data.blocks.upper[i])));
  const ray = new THREE.Ray();
  const hit = new THREE.Vector3();

  function pick(clientX, clientY) {
    const rect = canvas.getBoundingClientRect();
    const ndc = new THREE.Vector3(((clientX - rect.left) / rect.width) * 2 - 1,
                                  -((clientY - rect.top) / rect.height) * 2 + 1, 0.5);
    ray.origin.copy(camera.position);
    ray.direction.copy(ndc.unproject(camera).sub(camera.position).normalize());
    let best = -1, bestDistance = Infinity;
    boxes.forEach((box, i) => {
      if (ray.intersectBox(box, hit)) {
        const d = hit.distanceTo(camera.position);
        if (d < bestDistance) { bestDistance = d; best = i; }
      }
    });
    return best;
  }

  const highlight = new THREE.LineSegments(new THREE.EdgesGeometry(new THREE.BoxGeometry(1, 1, 1)),
                                           new THREE.LineBasicMaterial({ color: 0x111111, depthTest: false }));
  highlight.visible = false;
  highlight.renderOrder = 10;
  scene.add(highlight);

  function blockText(i) {
    const info = data.blocks.info[i] || data.blocks.ids[i];
    const flags = data.blocks.flags[i] || [];
    const text = flags.length && !/flags?:/.test(info) ? `${info}\nflags: ${flags.join(", ")}` : info;
    return data.info_note ? `${text}\n(${data.info_note})` : text;
  }

  function showInfo(i) {
    const panel = $("r3d-info");
    if (i < 0) {
      panel.hidden = true;
      highlight.visible = false;
    } else {
      const [first, ...rest] = blockText(i).split("\n");
      $("r3d-info-name").textContent = first;
      $("r3d-info-body").textContent = rest.join("\n");
      panel.hidden = false;
      const box = boxes[i];
      box.getCenter(highlight.position);
      box.getSize(highlight.scale).multiplyScalar(1.02);
      highlight.visible = true;
    }
    api.picked = i;
    requestRender();
  }

  const tooltip = $("r3d-tooltip");
  let down = null;
  canvas.addEventListener("pointerdown", (e) => { down = [e.clientX, e.clientY]; });
  canvas.addEventListener("pointerup", (e) => {
    if (down && Math.hypot(e.clientX - down[0], e.clientY - down[1]) < 5) showInfo(pick(e.clientX, e.clientY));
    down = null;
  });
  canvas.addEventListener("pointermove", (e) => {
    if (e.buttons) { tooltip.hidden = true; return; }
    const i = pick(e.clientX, e.clientY);
    canvas.style.cursor = i >= 0 ? "pointer" : "";
    if (i < 0) { tooltip.hidden = true; return; }
    tooltip.textContent = blockText(i).split("\n").slice(0, 3).join("\n");
    const rect = root.getBoundingClientRect();
    tooltip.style.left = `${e.clientX - rect.left + 14}px`;
    tooltip.style.top = `${e.clientY - rect.top + 14}px`;
    tooltip.hidden = false;
  });
  canvas.addEventListener("pointerleave", () => { tooltip.hidden = true; });
  $("r3d-info-close").addEventListener("click", () => showInfo(-1));
  $("r3d-home").addEventListener("click", () => {
    camera.position.copy(home.position);
    controls.target.copy(home.target);
    controls.update();
    requestRender();
  });

  // --- layout and drawing ---------------------------------------------------------------------------------
  const project = new THREE.Vector3();

  function placeLabels() {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const controls = $("r3d-controls");
    const floor = h - controls.offsetHeight - 2 * (h - controls.offsetTop - controls.offsetHeight);  // above the bar
    const kept = [];
    for (const label of labels) {
      project.copy(label.anchor).project(camera);
      // the text's lower-left corner at the anchor, moved in where the text would run off the view
      const ax = (project.x + 1) / 2 * w, ay = (1 - project.y) / 2 * h;
      const x = Math.max(0, Math.min(w - label.w, ax)), y = Math.max(label.h, Math.min(floor, ay));
      const box = [x, y - label.h, x + label.w, y];
      const visible = project.z < 1 && project.z > -1 && ax >= 0 && ax <= w && ay >= 0 && ay <= h
        && !kept.some((b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]);
      label.el.style.visibility = visible ? "visible" : "hidden";
      if (visible) {
        kept.push(box);
        label.el.style.transform = `translate(${Math.round(x)}px, ${Math.round(y - label.h)}px)`;
      }
    }
  }

  function layout() {
    const w = root.clientWidth, h = root.clientHeight;
    renderer.setSize(w, h, false);
    // the scene camera was fitted to data.size: a narrower view widens the vertical angle to keep the width
    const sceneAspect = data.size[0] / data.size[1], aspect = w / Math.max(h, 1);
    const half = Math.tan((cam.view_angle * Math.PI) / 360) * Math.max(1, sceneAspect / aspect);
    camera.fov = (Math.atan(half) * 360) / Math.PI;
    camera.aspect = aspect;
    camera.updateProjectionMatrix();
    const s = h / 1080;  // overlay sizes are given at 1080 px, as in the PNGs
    const o = data.overlays;
    root.style.setProperty("--margin", `${Math.max(6, o.margin * s)}px`);
    root.style.setProperty("--title", `${Math.max(13, o.title_font * s)}px`);
    root.style.setProperty("--note", `${Math.max(10, o.note_font * s)}px`);
    root.style.setProperty("--caption", `${Math.max(11, o.caption_font * s)}px`);
    root.style.setProperty("--row", `${Math.max(14, o.legend_row * s)}px`);
    root.style.setProperty("--label", `${Math.max(9, data.labels.font_px * s)}px`);
    for (const label of labels) {
      label.el.style.transform = "none";
      label.w = label.el.offsetWidth;
      label.h = label.el.offsetHeight;
    }
    requestRender();
  }

  let pending = false;
  function draw() {
    pending = false;
    renderer.render(scene, camera);
    placeLabels();
  }
  function requestRender() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(draw);
    }
  }
  controls.addEventListener("change", requestRender);
  window.addEventListener("resize", layout);

  // --- epoch slider and play button -------------------------------------------------------------------------
  let timer = null;
  function play(on) {
    clearInterval(timer);
    timer = null;
    $("r3d-play").textContent = on ? "\u275a\u275a" : "\u25b6";
    $("r3d-play").setAttribute("aria-label", on ? "pause" : "play");
    if (!on) return;
    if (api.epoch >= frames.length - 1) setEpoch(0);
    timer = setInterval(() => {
      if (api.epoch >= frames.length - 1) play(false);
      else setEpoch(api.epoch + 1);
    }, 900);
  }
  if (frames.length) {
    const slider = $("r3d-slider");
    slider.max = String(frames.length - 1);
    slider.addEventListener("input", () => { play(false); setEpoch(Number(slider.value)); });
    $("r3d-play").addEventListener("click", () => play(timer === null));
    $("r3d-player").hidden = false;
  }

  // --- load ---------------------------------------------------------------------------------------------------
  const bytes = Uint8Array.from(atob(data.glb), (c) => c.charCodeAt(0));
  new THREE.GLTFLoader().parse(bytes.buffer, "", (gltf) => {
    scene.add(gltf.scene);
    gltf.scene.traverse((o) => {
      const id = o.userData && o.userData.render3d && o.userData.render3d.feature_map;
      if (id !== undefined && o.isMesh) fmaps.set(id, o);
    });
    const decoded = frames.flatMap((f) => Object.values(f.textures).map((t) => t.decoded));
    Promise.all(decoded).then(() => {
      layout();
      if (frames.length) setEpoch(frames.length - 1);
      requestAnimationFrame(() => requestAnimationFrame(() => {
        api.ready = true;
        document.body.dataset.ready = "1";
      }));
    });
  }, (error) => { console.error("render3d: could not read the scene:", error); });

  api.setEpoch = setEpoch;
  api.pick = pick;
  api.showInfo = showInfo;
  api.frames = frames.length;
  /** Page coordinates of block i's centre (for tests and scripted tours). */
  api.blockPoint = (i) => {
    const c = boxes[i].getCenter(new THREE.Vector3()).project(camera);
    const rect = canvas.getBoundingClientRect();
    return [rect.left + (c.x + 1) / 2 * rect.width, rect.top + (1 - c.y) / 2 * rect.height];
  };
})();
