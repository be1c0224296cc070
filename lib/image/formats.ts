// Image formats: the one list is lib/vocabulary's DISK_FORMATS; helpers around it.
import { DISK_FORMATS, type DiskFormat } from '../vocabulary.js';

/**
 * Image formats the worker accepts as input (appliance drives, convert sources) and writes as
 * convert/fix targets. Other formats qemu knows (qed, qcow v1, vpc, dmg, parallels…) are refused:
 * we read their headers ourselves before qemu does, and only these have a reader here.
 */
export const IMAGE_FORMATS = DISK_FORMATS;
export type ImageFormat = DiskFormat;

/** Whether `name` is one of {@link IMAGE_FORMATS}. */
export function isImageFormat(name: string): name is ImageFormat {
  return (IMAGE_FORMATS as readonly string[]).includes(name);
}

/** A job's format name as qemu spells it (`img` is raw; case and blanks ignored). */
export function normaliseFormat(format: string): string {
  const f = format.trim().toLowerCase();
  return f === 'img' ? 'raw' : f;
}
