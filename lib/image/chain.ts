// Opening an image and every file it makes qemu open, checked and pinned. Each name is resolved
// the way qemu resolves it (absolute, or relative to the referring file's folder, symlinks
// followed by the kernel as it walks the name: `lnk/../x` goes through `lnk`), protocols are
// refused, and each file is opened here first; qemu is then only ever given `/proc/<pid>/fd/N`
// names of those open files, inside an explicit json: spec (`backing` and `data-file` spelled
// out), so nothing qemu opens is chosen by a name read from an image, and a rename after the
// check changes nothing.
import { constants, type BigIntStats } from 'node:fs';
import { open, readlink, realpath, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LibraryError, type LibraryErrorCode } from '../errors.js';
import { descriptorPath } from './descriptor.js';
import { IMAGE_FORMATS, isImageFormat, normaliseFormat, type ImageFormat } from './formats.js';
import { readImageHeader, type ImageHeader } from './headers.js';

/** One file of a chain, open in this process. */
export interface PinnedFile {
  /** Where it really is (the kernel's name of the open file). */
  readonly path: string;
  /** `/proc/<pid>/fd/<n>`: the name that reopens exactly this file, whatever was renamed since. */
  readonly name: string;
  readonly handle: FileHandle;
  readonly kind: 'file' | 'block';
  readonly stat: BigIntStats;
}

/** One image of a chain: the file, how to read it, and the other files it needs. */
export interface ChainLayer {
  readonly file: PinnedFile;
  readonly format: ImageFormat;
  readonly header: ImageHeader;
  readonly dataFile?: PinnedFile;
  readonly extents: readonly PinnedFile[];
  /** A VMDK descriptor rewritten to name the pinned extents (a private file). */
  readonly descriptorCopy?: string;
}

export interface OpenImageOptions {
  /** Allowed roots: every file of the chain must really be inside one. */
  roots: readonly string[];
  /** Declared format of the top image (`img` = raw); a header that disagrees is refused. */
  format?: string;
  /** Open the top image (and a data file) for writing too. */
  write?: boolean;
  /** Refuse backing files, data files and extents in other files (appliance drives). */
  standalone?: boolean;
  /** Field name for messages (`payload.data.image`). */
  field?: string;
  /** A private (0700) folder for rewritten VMDK descriptors; without it multi-file VMDKs are refused. */
  privateDir?: string;
}

/** An image opened with every file it reads: pass {@link qemuName} to qemu, never a path. */
export interface PinnedImage {
  /** Real path of the top image. */
  readonly path: string;
  readonly format: ImageFormat;
  /** Top first. */
  readonly layers: readonly ChainLayer[];
  /**
   * The blockdev options that open exactly the pinned files; `layers` = 1 gives the top image
   * alone (`backing: null`), as `qemu-img info` needs (it opens without backing files).
   */
  qemuSpec(layers?: number): Record<string, unknown>;
  /** `json:{…}` of {@link qemuSpec}, a filename qemu-img and backing-file fields accept. */
  qemuName(layers?: number): string;
  /** IMAGE_CHANGED when any pinned file's content changed (mtime/ctime/size) since it was checked. */
  verify(): Promise<void>;
  close(): Promise<void>;
}

const MAX_DEPTH = 16;

function fail(code: LibraryErrorCode, message: string, details: Record<string, unknown>): never {
  throw new LibraryError(code, message, { phase: 'validation', details });
}

function inside(child: string, root: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** The allowed roots as real paths (a root that does not exist holds nothing). */
export async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots)
    out.push(
      ...(await realpath(resolve(r)).then(
        (p) => [p],
        () => [],
      )),
    );
  return out;
}

/** qemu's path_has_protocol: a `:` before any `/` makes the name a protocol (nbd:, json:, file:…). */
export function hasProtocol(name: string): boolean {
  const i = name.search(/[:/]/);
  return i >= 0 && name[i] === ':';
}

/**
 * The path qemu would open for `name` found in `referrer` (a real path): absolute names as they
 * are, relative ones appended to the referrer's folder as text. No `..` is folded here: the kernel
 * walks the result, following each symlink before the `..` after it, exactly as for qemu.
 */
export function qemuRelative(name: string, referrer: string): string {
  return name.startsWith('/') ? name : `${dirname(referrer)}/${name}`;
}

class Pinner {
  readonly files: PinnedFile[] = [];
  constructor(
    readonly roots: readonly string[],
    readonly shownRoots: readonly string[],
  ) {}

  notAllowed(given: string, what: string): never {
    fail(
      'PATH_NOT_ALLOWED',
      `${what} ${given} is outside the allowed roots (${this.shownRoots.join(', ') || 'none configured'}); ` +
        'move it under an allowed root or add one with --allowed-roots',
      { path: given, allowed_roots: [...this.shownRoots] },
    );
  }

  isInside(p: string): boolean {
    return this.roots.some((r) => inside(p, r));
  }

  /** Opens `candidate` (a path as the kernel will walk it) after checking where it really is. */
  async pin(candidate: string, given: string, what: string, write: boolean): Promise<PinnedFile> {
    if (given === '' || given.includes('\0'))
      fail('VALIDATION_ERROR', `${what} has an empty or invalid name`, {});
    if (hasProtocol(given))
      fail(
        'PATH_NOT_ALLOWED',
        `${what} ${given} names a protocol or a json: pseudo-file; only plain files inside the allowed roots are opened`,
        { path: given },
      );
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Missing: say so only inside the roots, or this becomes an oracle for outside paths.
      const parent = await realpath(dirname(candidate)).catch(() => undefined);
      if (code === 'ENOENT' && parent !== undefined && this.isInside(parent))
        fail('IMAGE_NOT_FOUND', `${what} not found: ${given}`, { path: given });
      this.notAllowed(given, what);
    }
    if (!this.isInside(real)) this.notAllowed(given, what);
    // Refuse FIFOs, sockets and character devices before opening them (a FIFO blocks a reader).
    const before = await stat(real);
    if (!before.isFile() && !before.isBlockDevice()) {
      const kind = before.isDirectory() ? 'a directory' : before.isFIFO() ? 'a FIFO' : 'a device or socket';
      fail('VALIDATION_ERROR', `${what} ${given} is ${kind}; only regular files and block devices are read`, {
        path: given,
      });
    }
    const flags =
      (write ? constants.O_RDWR : constants.O_RDONLY) |
      constants.O_NOFOLLOW |
      constants.O_NONBLOCK |
      constants.O_NOCTTY;
    let handle: FileHandle;
    try {
      handle = await open(real, flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (write && (code === 'EACCES' || code === 'EROFS' || code === 'EPERM'))
        fail(
          'VALIDATION_ERROR',
          `${what} ${given} is not writable (${code}); the job needs to write into it`,
          {
            path: given,
          },
        );
      fail('PATH_NOT_ALLOWED', `${what} ${given} cannot be opened: ${(err as Error).message}`, {
        path: given,
      });
    }
    const pinned = await this.adopt(handle, given, what);
    this.files.push(pinned);
    return pinned;
  }

  /** Checks what was really opened (the kernel's name for the fd), closing it when refused. */
  private async adopt(handle: FileHandle, given: string, what: string): Promise<PinnedFile> {
    try {
      const st = await handle.stat({ bigint: true });
      if (!st.isFile() && !st.isBlockDevice())
        fail('VALIDATION_ERROR', `${what} ${given} is not a regular file or block device`, { path: given });
      const path = await readlink(`/proc/self/fd/${handle.fd}`);
      if (!this.isInside(path)) this.notAllowed(given, what);
      return {
        path,
        name: descriptorPath(handle.fd),
        handle,
        kind: st.isBlockDevice() ? 'block' : 'file',
        stat: st,
      };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.files.map((f) => f.handle.close().catch(() => undefined)));
  }
}

function unsupported(given: string, format: string): never {
  fail(
    'UNSUPPORTED_IMAGE_FORMAT',
    `${given} is in format '${format}'; supported: ${IMAGE_FORMATS.join(', ')} (convert it first)`,
    { path: given, detected_format: format },
  );
}

async function openLayer(
  pinner: Pinner,
  file: PinnedFile,
  given: string,
  declared: string | undefined,
  options: OpenImageOptions,
  write: boolean,
): Promise<{ layer: ChainLayer; next?: { name: string; format?: string } }> {
  const header = await readImageHeader(file.handle, declared);
  if (header.damaged !== undefined)
    fail(
      'UNSUPPORTED_IMAGE_FORMAT',
      `${given} starts like a ${header.format} image but its header is damaged: ${header.damaged}; ` +
        'it is corrupt or not a disk image',
      { path: given, detected_format: header.format, reason: header.damaged },
    );
  if (header.encrypted)
    fail('UNSUPPORTED_IMAGE_FORMAT', `${given} is encrypted; decrypt it first`, { path: given });
  if (!isImageFormat(header.format)) unsupported(given, header.format);
  if (declared !== undefined && declared !== header.format) {
    fail(
      'UNSUPPORTED_IMAGE_FORMAT',
      `${given} is ${header.format}, not ${declared} as declared; fix the format or omit it`,
      { path: given, declared, detected: header.format },
    );
  }
  const standalone = (what: string, name: string): never =>
    fail(
      'PATH_NOT_ALLOWED',
      `Image ${given} ${what} (${name}); images attached to an appliance must be self-contained: ` +
        'flatten it with `qemu-img convert` first',
      { path: given, reference: name },
    );
  let dataFile: PinnedFile | undefined;
  if (header.dataFile !== undefined) {
    if (options.standalone) standalone('stores its data in an external file', header.dataFile);
    const what = `The external data file of ${given}`;
    dataFile = await pinner.pin(qemuRelative(header.dataFile, file.path), header.dataFile, what, write);
  }
  const extents: PinnedFile[] = [];
  let descriptorCopy: string | undefined;
  const others = (header.extents ?? []).filter((e) => header.descriptor === undefined || e !== '');
  if (header.descriptor !== undefined && others.length > 0) {
    if (options.standalone) standalone('reads extents from other files', others.join(', '));
    const embedded = (await file.handle.read(Buffer.alloc(4), 0, 4, 0)).buffer.toString('latin1') === 'KDMV';
    if (embedded || !options.privateDir)
      fail(
        'UNSUPPORTED_IMAGE_FORMAT',
        `VMDK ${given} names extents in other files; convert it to one file first`,
        {
          path: given,
          extents: others,
        },
      );
    let text = header.descriptor;
    for (const name of others) {
      const what = `VMDK extent of ${given}`;
      const pinned = await pinner.pin(qemuRelative(name, file.path), name, what, write);
      extents.push(pinned);
      text = text.replace(`"${name}"`, `"${pinned.name}"`);
    }
    descriptorCopy = join(options.privateDir, `descriptor-${file.handle.fd}.vmdk`);
    await writeFile(descriptorCopy, text, { mode: 0o600, flag: 'wx' });
  }
  const layer: ChainLayer = {
    file,
    format: header.format,
    header,
    extents,
    ...(dataFile ? { dataFile } : {}),
    ...(descriptorCopy ? { descriptorCopy } : {}),
  };
  if (header.backing && options.standalone) standalone('has a backing file', header.backing.name);
  return { layer, ...(header.backing ? { next: header.backing } : {}) };
}

function driverOf(f: PinnedFile): string {
  return f.kind === 'block' ? 'host_device' : 'file';
}

function specOf(layers: readonly ChainLayer[], i: number, depth: number): Record<string, unknown> {
  const l = layers[i];
  const spec: Record<string, unknown> = {
    driver: l.format,
    file: { driver: l.descriptorCopy ? 'file' : driverOf(l.file), filename: l.descriptorCopy ?? l.file.name },
  };
  // Only formats with backing files take the option; null says "none, whatever the header says".
  if (l.format === 'qcow2' || l.format === 'vmdk')
    spec.backing = i + 1 < depth ? specOf(layers, i + 1, depth) : null;
  if (l.dataFile) spec['data-file'] = { driver: driverOf(l.dataFile), filename: l.dataFile.name };
  return spec;
}

function sameContent(a: BigIntStats, b: BigIntStats): boolean {
  return (
    a.ino === b.ino &&
    a.dev === b.dev &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/**
 * Opens `path` (relative paths against the working directory, walked by the kernel without any
 * textual folding) and every file its chain names, each checked against `roots` by where it
 * really is. Throws a LibraryError: PATH_NOT_ALLOWED (outside, protocol, not self-contained when
 * asked), IMAGE_NOT_FOUND (missing inside the roots), UNSUPPORTED_IMAGE_FORMAT, VALIDATION_ERROR.
 */
export async function openImageChain(path: string, options: OpenImageOptions): Promise<PinnedImage> {
  const field = options.field ?? 'image';
  if (typeof path !== 'string' || path.trim() === '' || path.includes('\0'))
    fail('VALIDATION_ERROR', `Invalid field value: ${field}.path - must be a non-empty path`, {});
  const pinner = new Pinner(await realRoots(options.roots), options.roots);
  try {
    const layers: ChainLayer[] = [];
    const write = options.write ?? false;
    const candidate = path.startsWith('/') ? path : `${process.cwd()}/${path}`;
    let file = await pinner.pin(candidate, path, 'Image', write);
    let given = path;
    let declared = options.format ? normaliseFormat(options.format) : undefined;
    for (;;) {
      const { layer, next } = await openLayer(
        pinner,
        file,
        given,
        declared,
        options,
        write && layers.length === 0,
      );
      layers.push(layer);
      if (!next) break;
      if (layers.length >= MAX_DEPTH)
        fail('UNSUPPORTED_IMAGE_FORMAT', `${path} has a backing chain deeper than ${MAX_DEPTH}`, { path });
      const what = `Backing file of ${given}`;
      file = await pinner.pin(qemuRelative(next.name, layer.file.path), next.name, what, false);
      if (layers.some((l) => l.file.stat.ino === file.stat.ino && l.file.stat.dev === file.stat.dev))
        fail('UNSUPPORTED_IMAGE_FORMAT', `${path} has a backing chain that loops`, { path });
      given = next.name;
      declared = next.format ? normaliseFormat(next.format) : undefined;
    }
    return pinnedImage(layers, pinner);
  } catch (err) {
    await pinner.closeAll();
    throw err;
  }
}

function pinnedImage(layers: ChainLayer[], pinner: Pinner): PinnedImage {
  let closed = false;
  return {
    path: layers[0].file.path,
    format: layers[0].format,
    layers,
    qemuSpec: (depth = layers.length) => specOf(layers, 0, Math.min(depth, layers.length)),
    qemuName: (depth = layers.length) =>
      `json:${JSON.stringify(specOf(layers, 0, Math.min(depth, layers.length)))}`,
    async verify() {
      for (const f of pinner.files) {
        // The protocol's fixed code list has no IMAGE_CHANGED: EXECUTION_ERROR, retryable, with
        // the reason in details.
        if (!sameContent(f.stat, await f.handle.stat({ bigint: true })))
          throw new LibraryError(
            'EXECUTION_ERROR',
            `IMAGE_CHANGED: ${f.path} changed while the job was using it (another writer?); run the job again`,
            { phase: 'validation', recoverable: true, details: { reason: 'IMAGE_CHANGED', path: f.path } },
          );
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pinner.closeAll();
    },
  };
}
