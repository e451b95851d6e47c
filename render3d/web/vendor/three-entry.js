// The parts of three.js the render3d page uses, bundled into one minified script (see README.md here).
export {
  Box3, BoxGeometry, Color, EdgesGeometry, LineBasicMaterial, LineSegments, NearestFilter, PerspectiveCamera,
  Ray, SRGBColorSpace, Scene, Texture, Vector3, WebGLRenderer, REVISION,
} from "three";
export { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
export { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
