// Splits a `system_command` command line into words the way a POSIX shell would, without ever running
// a shell: quotes and backslashes are honoured, and everything a shell would treat as syntax (pipes,
// separators, redirections, expansions, globs, comments, newlines) is refused with a sentence that
// names it. Refusing, rather than passing such text on literally, keeps a command meaning what its
// author expected: `ls *.txt` would otherwise look for a file literally named `*.txt`.
//
// Why our own tokenizer: shell-quote (evaluated) splits on newlines silently, passes backticks through
// as text and drops `a#b` as a comment, so a command could mean something else than it reads.
//
// Rules, as in POSIX sh (XCU 2.2-2.3):
// - words are separated by unquoted spaces and tabs; `''` and `""` make an empty word;
// - '…' is literal up to the next single quote;
// - "…" is literal except `\` before `$ \` " \` (the backslash escapes it) and `$`/`` ` `` (expansions in
//   a real shell: refused, since a reader would expect them expanded; `\$` passes a literal dollar);
// - outside quotes `\x` is a literal x;
// - outside quotes `| & ; < > ( ) $ \` * ? [ { }` are refused, and so are `#` and `~` at the start of a
//   word (a comment, a home directory), `~` after `=`/`:` in an assignment-like word (bash expands it),
//   newlines and carriage returns (a second command), and a leading `NAME=value` word (an assignment);
// - a NUL byte is refused anywhere: no program can receive one in its arguments.
// Text inside quotes, newlines included, is passed on as it is.

export type SplitResult = { ok: true; words: string[] } | { ok: false; problem: string };

const NO_SHELL_HINT = 'no shell runs the command; quote text meant literally, or give the arguments in "args"';

/** Characters that need quoting outside quotes; glob and brace characters included. */
const SPECIAL = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '[', '{', '}', '\n', '\r']);

const ASSIGNMENT_PREFIX = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** What a shell would make of the unquoted character at `i`; null when it is plain text. */
function shellSyntaxAt(line: string, i: number, atWordStart: boolean, word: string): string | null {
  const c = line[i]!;
  const next = line[i + 1];
  if (atWordStart && c === '#') return 'a comment "#"';
  if (c === '~' && (atWordStart || ((word.endsWith('=') || word.endsWith(':')) && ASSIGNMENT_PREFIX.test(word)))) {
    return 'tilde expansion "~"';
  }
  if (!SPECIAL.has(c)) return null;
  switch (c) {
    case '|':
      return next === '|' ? 'the "||" operator' : 'a pipe "|"';
    case '&':
      return next === '&' ? 'the "&&" operator' : 'a background "&"';
    case ';':
      return 'a command separator ";"';
    case '<':
    case '>':
      return `a redirection "${c}"`;
    case '(':
    case ')':
      return `a subshell parenthesis "${c}"`;
    case '$': {
      if (next === '(') return 'command substitution "$(…)"';
      if (next === '{') return 'parameter expansion "${…}"';
      const name = /^\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(line.slice(i))?.[0];
      return name ? `variable expansion "${name}"` : 'a dollar sign "$" (expansion)';
    }
    case '`':
      return 'command substitution with backticks "`"';
    case '{':
    case '}':
      return `brace expansion "${c}"`;
    case '\n':
      return 'a newline (a second command)';
    case '\r':
      return 'a carriage return';
    default:
      return `a glob pattern "${c}"`;
  }
}

export function splitCommandLine(line: string): SplitResult {
  const refuse = (what: string, at: number): SplitResult => ({
    ok: false,
    problem: `shell syntax is not supported: ${what} at character ${at + 1}; ${NO_SHELL_HINT}`,
  });
  const nul = line.indexOf('\0');
  if (nul >= 0) return { ok: false, problem: `must not contain a NUL byte (character ${nul + 1})` };

  const words: string[] = [];
  let word = '';
  // A word has started: '' and "" make empty words, so emptiness of `word` cannot tell.
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i += 1;
      continue;
    }
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return refuse('an unterminated single quote', i);
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        const d = line[j];
        if (d === undefined) return refuse('an unterminated double quote', i);
        if (d === '"') break;
        if (d === '$' || d === '`') {
          return refuse(`"${d}" inside double quotes (a shell would expand it; use single quotes or \\${d})`, j);
        }
        if (d === '\\') {
          const e = line[j + 1];
          if (e === '\n' || e === '\r') return refuse('a line continuation (backslash before a newline)', j);
          if (e === '$' || e === '`' || e === '"' || e === '\\') {
            word += e;
            j += 2;
            continue;
          }
        }
        word += d;
        j += 1;
      }
      i = j + 1;
    } else if (c === '\\') {
      const e = line[i + 1];
      if (e === undefined) return refuse('a trailing backslash with nothing to escape', i);
      if (e === '\n' || e === '\r') return refuse('a line continuation (backslash before a newline)', i);
      word += e;
      i += 2;
    } else {
      const syntax = shellSyntaxAt(line, i, !inWord, word);
      if (syntax) return refuse(syntax, i);
      word += c;
      i += 1;
    }
    inWord = true;
  }
  if (inWord) words.push(word);
  if (words.length === 0) return { ok: false, problem: 'is empty: name a program to run' };
  const assignment = ASSIGNMENT_PREFIX.exec(words[0]!);
  if (assignment) {
    return {
      ok: false,
      problem: `shell syntax is not supported: a variable assignment "${assignment[0]}…" before the program; set variables in "env"`,
    };
  }
  return { ok: true, words };
}
