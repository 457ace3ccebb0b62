/** Capture: every committed change of the source, exactly once, into the Kafka transaction log. */
export {
  type CaptureDeps,
  type CapturePhase,
  type CaptureService,
  startCapture,
} from './capture.js';
export { BACKTRACK_MESSAGE_PREFIX } from './session.js';
export { planSetup, applySetup, type SetupPlan, type SetupAction } from './setup.js';
