// Reads the Dockerfile, and replays its file steps in a temporary folder, so the tests can check and
// start what the image would hold without a Docker engine (none runs on these machines).
//
// The replay, stage by stage, each stage a folder standing for its root filesystem:
//   FROM <image>      an empty root (the base image's own files, node included, are the host's here)
//   FROM <stage>      a copy of that stage's root
//   WORKDIR, ENV, USER, EXPOSE, CMD, ENTRYPOINT, LABEL   as Docker does, or recorded
//   COPY [--from=S]   from the build context (the repository less .dockerignore) or from stage S
//   RUN               split at `&&`; `npm ci` is replaced by links into this checkout's node_modules,
//                     laid out as the lockfile says (without its dev packages under --omit=dev, after
//                     npm ci's own check that every workspace's manifest is there and in the lockfile);
//                     `npm run build` by this checkout's build output (tsc -b, from the same sources);
//                     `npm cache clean` and `chown` do nothing here; anything else runs in `sh` in the
//                     stage's WORKDIR, and must therefore use relative paths only.
// What the replay cannot show: the base image itself, file ownership, and the packages npm would
// download (those come from this checkout, whose lockfile is the same).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';

export interface Instruction {
  keyword: string;
  /** The arguments after the flags, as written (continuation lines joined). */
  args: string;
  /** `--from=build` → { from: 'build' }. */
  flags: Record<string, string>;
  /** The JSON (exec) form of RUN, CMD and ENTRYPOINT, when used. */
  exec?: string[];
  line: number;
}

export interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/** Dockerfile instructions, grouped by stage. Handles comments, parser directives and `\` continuations. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === '' || first.startsWith('#')) continue;
    const line = i + 1;
    let joined = '';
    let current = lines[i]!;
    for (;;) {
      const trimmed = current.replace(/\s+$/, '');
      if (!trimmed.endsWith('\\')) {
        joined += trimmed;
        break;
      }
      joined += `${trimmed.slice(0, -1)} `;
      // Comment lines inside a continuation are dropped, as Docker does.
      do i++;
      while (i < lines.length && lines[i]!.trim().startsWith('#'));
      if (i >= lines.length) throw new Error(`Dockerfile line ${line}: continuation at the end of the file`);
      current = lines[i]!;
    }
    const match = /^\s*(\S+)\s*(.*)$/s.exec(joined)!;
    const keyword = match[1]!.toUpperCase();
    let rest = match[2]!.trim();
    const flags: Record<string, string> = {};
    for (let flag = /^--([a-z-]+)=(\S+)\s*/.exec(rest); flag; flag = /^--([a-z-]+)=(\S+)\s*/.exec(rest)) {
      flags[flag[1]!] = flag[2]!;
      rest = rest.slice(flag[0].length);
    }
    const instruction: Instruction = { keyword, args: rest, flags, line };
    if (['RUN', 'CMD', 'ENTRYPOINT'].includes(keyword) && rest.startsWith('[')) instruction.exec = JSON.parse(rest) as string[];
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!from) throw new Error(`Dockerfile line ${line}: cannot read FROM ${rest}`);
      stages.push({ base: from[1]!, name: from[2] ?? String(stages.length), instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw new Error(`Dockerfile line ${line}: ${keyword} before the first FROM`);
    stage.instructions.push(instruction);
  }
  return stages;
}

/** The shell form's words, for the simple lines a Dockerfile has (no quotes inside words). */
export function words(args: string): string[] {
  return args.split(/\s+/).filter(Boolean);
}

// ---- build context ---------------------------------------------------------------------------

/** .dockerignore as Docker reads it: patterns anchored at the context root, `**` for any folders, `!` re-includes. */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = posix.normalize((negate ? line.slice(1) : line).trim()).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((part) => (part === '**' ? '\u0000' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\u0000\//g, '(?:.*/)?')
        .replace(/\/\u0000/g, '(?:/.*)?')
        .replace(/\u0000/g, '.*');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    // A path is out when the last rule matching it, or one of its parent folders, excludes.
    const parts = path.split('/');
    let excluded = false;
    for (const rule of rules) {
      for (let n = 1; n <= parts.length; n++) {
        if (rule.regex.test(parts.slice(0, n).join('/'))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return excluded;
  };
}

/** The build context: the repository's files less .dockerignore, copied into a folder of its own. */
function snapshotContext(repo: string, into: string): void {
  const ignorePath = join(repo, '.dockerignore');
  const ignored = dockerignoreMatcher(existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(repo, dir), { withFileTypes: true }) as Dirent[]) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (ignored(path)) continue;
      if (entry.isDirectory()) walk(path);
      else {
        mkdirSync(join(into, dir), { recursive: true });
        cpSync(join(repo, path), join(into, path), { verbatimSymlinks: true });
      }
    }
  };
  mkdirSync(into, { recursive: true });
  walk('');
}

// ---- replay ----------------------------------------------------------------------------------

/** A stage as the replay leaves it: its root folder and the settings Docker would give its processes. */
interface StageState {
  /** The stage's root folder; `root + workdir` is where CMD runs. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  cmd: string[] | undefined;
  entrypoint: string[] | undefined;
  exposed: string[];
}

export interface ReplayedImage extends StageState {
  stages: Stage[];
  /** Removes every folder the replay made. */
  remove(): void;
}

type Json = Record<string, any>;
const readJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8')) as Json;

/** `npm ci` in `dir`, as links into the checkout's installed packages (see the header). */
function replayNpmCi(repo: string, dir: string, omitDev: boolean): void {
  if (existsSync(join(dir, 'node_modules'))) throw new Error(`npm ci over an existing node_modules in ${dir}`);
  const manifest = readJson(join(dir, 'package.json'));
  const lock = readJson(join(dir, 'package-lock.json')).packages as Record<string, Json>;
  const depFields = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];
  const sameDeps = (a: Json, b: Json): boolean => depFields.every((field) => JSON.stringify(a[field] ?? {}) === JSON.stringify(b[field] ?? {}));
  // npm ci refuses a lockfile out of step with the manifests, and a workspace without its manifest.
  if (!sameDeps(manifest, lock[''] ?? {})) throw new Error(`npm ci: package.json and package-lock.json disagree in ${dir}`);
  for (const workspace of (manifest.workspaces as string[] | undefined) ?? []) {
    const path = join(dir, workspace, 'package.json');
    if (!existsSync(path)) throw new Error(`npm ci: workspace ${workspace} has no package.json in the image (not copied before npm ci)`);
    if (!lock[workspace] || !sameDeps(readJson(path), lock[workspace]!)) {
      throw new Error(`npm ci: workspace ${workspace}'s package.json and package-lock.json disagree`);
    }
  }
  for (const [key, entry] of Object.entries(lock)) {
    const at = key.indexOf('node_modules/');
    // Packages nested inside another package's folder come along with that folder.
    if (at < 0 || key.slice(at + 'node_modules/'.length).includes('/node_modules/')) continue;
    if (omitDev && entry.dev) continue;
    const dest = join(dir, key);
    const target = entry.link ? join(dir, entry.resolved as string) : join(repo, key);
    if (!entry.link && !existsSync(target)) {
      if (entry.optional) continue; // another platform's optional binary
      throw new Error(`npm ci replay: ${key} is in the lockfile but not installed in this checkout (run npm ci)`);
    }
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync(entry.link ? relative(dirname(dest), target) : target, dest);
  }
}

/** `npm run build` in `dir`: this checkout's output of each TypeScript project found there. */
function replayBuild(repo: string, dir: string): void {
  const projects: string[] = [];
  const walk = (sub: string): void => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true }) as Dirent[]) {
      if (entry.name === 'node_modules') continue;
      const path = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else if (entry.name === 'tsconfig.json') projects.push(sub);
    }
  };
  walk('');
  for (const project of projects) {
    const outDir = (readJson(join(dir, project, 'tsconfig.json')).compilerOptions as Json | undefined)?.outDir as string | undefined;
    if (!outDir) continue;
    const built = join(repo, project, outDir);
    if (!existsSync(built)) throw new Error(`npm run build replay: ${relative(repo, built)} is missing; run npm run build first`);
    cpSync(built, join(dir, project, outDir), { recursive: true, verbatimSymlinks: true });
  }
}

function replayRun(repo: string, state: StageState, instruction: Instruction): void {
  if (instruction.exec) throw new Error(`Dockerfile line ${instruction.line}: RUN in exec form is not replayed`);
  const cwd = join(state.root, state.workdir);
  for (const part of instruction.args.split('&&').map((p) => p.trim())) {
    const [program, sub] = words(part);
    if (program === 'npm' && sub === 'ci') {
      replayNpmCi(repo, cwd, /--omit[= ]dev\b/.test(part) || state.env.NODE_ENV === 'production');
    } else if (program === 'npm' && sub === 'run' && words(part)[2] === 'build') {
      replayBuild(repo, cwd);
    } else if ((program === 'npm' && sub === 'cache') || program === 'chown') {
      // Nothing to replay: npm's cache and file owners do not exist here.
    } else {
      if (/(^|[\s'"=])\/|\bcd\b/.test(part)) {
        throw new Error(`Dockerfile line ${instruction.line}: "${part}" must use paths relative to WORKDIR (and no cd) to be replayed`);
      }
      execFileSync('sh', ['-ec', part], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    }
  }
}

function replayCopy(stages: Map<string, StageState>, context: string, state: StageState, instruction: Instruction): void {
  const parts = words(instruction.args);
  const dest = parts.pop()!;
  const from = instruction.flags.from;
  const sourceRoot = from ? stages.get(from)?.root : context;
  if (!sourceRoot) throw new Error(`Dockerfile line ${instruction.line}: COPY --from=${from} names no earlier stage`);
  const destPath = join(state.root, posix.resolve(state.workdir, dest));
  const intoFolder = dest.endsWith('/') || dest === '.' || parts.length > 1;
  for (const source of parts) {
    if (/[*?[]/.test(source)) throw new Error(`Dockerfile line ${instruction.line}: COPY wildcards are not replayed`);
    const sourcePath = join(sourceRoot, posix.resolve('/', source));
    if (!existsSync(sourcePath)) throw new Error(`Dockerfile line ${instruction.line}: COPY ${source}: not found in ${from ? `stage ${from}` : 'the build context'}`);
    const isFolder = readdirSafe(sourcePath) !== null;
    const target = isFolder || !intoFolder ? destPath : join(destPath, posix.basename(source));
    mkdirSync(isFolder ? target : dirname(target), { recursive: true });
    cpSync(sourcePath, target, { recursive: true, verbatimSymlinks: true });
  }
}

function readdirSafe(path: string): string[] | null {
  try {
    return readdirSync(path);
  } catch {
    return null;
  }
}

/** Replays the Dockerfile up to `target` (default its last stage); see the header. */
export function replayDockerfile(repo: string, options: { dockerfile?: string; target?: string } = {}): ReplayedImage {
  const stages = parseDockerfile(readFileSync(join(repo, options.dockerfile ?? 'Dockerfile'), 'utf8'));
  const work = mkdtempSync(join(tmpdir(), 'taskengine-image-'));
  const remove = (): void => rmSync(work, { recursive: true, force: true });
  try {
    const context = join(work, 'context');
    snapshotContext(repo, context);
    const done = new Map<string, StageState>();
    let state: StageState | undefined;
    for (const stage of stages) {
      const root = join(work, `stage-${done.size}-${stage.name}`);
      const previous = done.get(stage.base);
      if (previous) cpSync(previous.root, root, { recursive: true, verbatimSymlinks: true });
      else mkdirSync(root);
      state = previous
        ? { ...previous, root, env: { ...previous.env }, exposed: [...previous.exposed] }
        : { root, workdir: '/', env: {}, user: undefined, cmd: undefined, entrypoint: undefined, exposed: [] };
      for (const instruction of stage.instructions) {
        switch (instruction.keyword) {
          case 'WORKDIR':
            state.workdir = posix.resolve(state.workdir, instruction.args);
            mkdirSync(join(root, state.workdir), { recursive: true });
            break;
          case 'ENV':
            // `ENV A=1 B=2`, or the old `ENV A 1`; no quoted values.
            if (/^\S+=/.test(instruction.args)) {
              for (const pair of words(instruction.args)) state.env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
            } else {
              const [key, ...value] = words(instruction.args);
              state.env[key!] = value.join(' ');
            }
            break;
          case 'COPY':
            replayCopy(done, context, state, instruction);
            break;
          case 'RUN':
            replayRun(repo, state, instruction);
            break;
          case 'USER':
            state.user = instruction.args;
            break;
          case 'EXPOSE':
            state.exposed.push(...words(instruction.args));
            break;
          case 'CMD':
            state.cmd = instruction.exec ?? ['/bin/sh', '-c', instruction.args];
            break;
          case 'ENTRYPOINT':
            state.entrypoint = instruction.exec ?? ['/bin/sh', '-c', instruction.args];
            break;
          case 'LABEL':
          case 'HEALTHCHECK':
          case 'STOPSIGNAL':
            break;
          default:
            throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} is not replayed`);
        }
      }
      done.set(stage.name, state);
      if (stage.name === options.target) break;
    }
    if (!state) throw new Error('the Dockerfile has no stage');
    return { ...state, stages, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
