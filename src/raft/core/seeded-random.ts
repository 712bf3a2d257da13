/**
 * The seeded `random` a RaftNode needs in tests and simulations: the same seed gives the same
 * election timeouts, so a failing run replays exactly.
 */
export { seededInt as seededRandom } from '../../seeded-random.ts';
