// What an age X25519 recipient looks like: "age1" and 58 bech32 characters whose checksum holds
// and whose payload is a 32-byte key. The library that seals checks it, so the config refuses
// exactly what sealing would fail on, at load time rather than at the first close.
import { Encrypter } from "age-encryption";

const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

export function isAgeRecipient(s: string): boolean {
  if (!X25519_RECIPIENT.test(s)) return false;
  try {
    new Encrypter().addRecipient(s);
    return true;
  } catch {
    return false;
  }
}
