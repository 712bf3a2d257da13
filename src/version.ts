/** Herald's version, and the Consul version whose wire formats it speaks. */
export const VERSION = '0.1.0';
export const CONSUL_COMPAT_VERSION = '1.10.0';
