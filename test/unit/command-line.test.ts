// The system_command tokenizer: a command line splits into the words a POSIX shell would give the
// program, and everything a shell would treat as syntax is refused with a sentence that names it.
import { describe, expect, it } from '@jest/globals';
import { splitCommandLine } from '@taskengine/executors/system-command/command-line';

describe('splitCommandLine splits like a shell', () => {
  it.each<[string, string[]]>([
    ['echo hello world', ['echo', 'hello', 'world']],
    ['  echo \t a   b  ', ['echo', 'a', 'b']],
    [`echo "a;b" 'c d'`, ['echo', 'a;b', 'c d']],
    [`echo 'it'"'"'s'`, ['echo', "it's"]],
    [`echo '' x ""`, ['echo', '', 'x', '']],
    ['echo a"b c"d', ['echo', 'ab cd']],
    ['echo a\\ b', ['echo', 'a b']],
    ['echo \\$HOME \\* \\; \\| \\# \\~', ['echo', '$HOME', '*', ';', '|', '#', '~']],
    ['echo "\\$x \\`y\\` \\"q\\" \\\\ \\n"', ['echo', '$x `y` "q" \\ \\n']],
    [`echo 'a$b|c;d>e*f(g)&h\`i\\'`, ['echo', 'a$b|c;d>e*f(g)&h`i\\']],
    ['echo "a|b;c&d>e<f*g?h[i]{j}(k)#l~m"', ['echo', 'a|b;c&d>e<f*g?h[i]{j}(k)#l~m']],
    ["echo 'two\nlines' \"and\rCR\"", ['echo', 'two\nlines', 'and\rCR']],
    ['echo a#b x~ a~b --flag=~/y ] , ! %', ['echo', 'a#b', 'x~', 'a~b', '--flag=~/y', ']', ',', '!', '%']],
    ['echo key=value', ['echo', 'key=value']],
    ['ls -la ./dir/file.txt', ['ls', '-la', './dir/file.txt']],
    ['héllo wörld ✓', ['héllo', 'wörld', '✓']],
  ])('%j', (line, words) => {
    expect(splitCommandLine(line)).toEqual({ ok: true, words });
  });
});

describe('splitCommandLine refuses shell syntax, saying what it found', () => {
  it.each<[string, string]>([
    ['echo hi; rm -rf /', 'a command separator ";" at character 8'],
    ['echo $(id)', 'command substitution "$(…)"'],
    ['echo `id`', 'command substitution with backticks'],
    ['true && id', 'the "&&" operator'],
    ['false || id', 'the "||" operator'],
    ['cat x | sh', 'a pipe "|"'],
    ['sleep 1 &', 'a background "&"'],
    ['echo hi\nid', 'a newline'],
    ['echo hi\r', 'a carriage return'],
    ['echo hi > out', 'a redirection ">"'],
    ['echo hi>>out', 'a redirection ">"'],
    ['cat < in', 'a redirection "<"'],
    ['echo $HOME', 'variable expansion "$HOME"'],
    ['echo ${HOME}', 'parameter expansion "${…}"'],
    ['echo $?', 'variable expansion "$?"'],
    ['echo $1', 'variable expansion "$1"'],
    ['echo $', 'a dollar sign "$"'],
    ['ls *.txt', 'a glob pattern "*"'],
    ['ls file?.txt', 'a glob pattern "?"'],
    ['ls [ab].txt', 'a glob pattern "["'],
    ['echo {a,b}', 'brace expansion "{"'],
    ['echo }', 'brace expansion "}"'],
    ['(id)', 'a subshell parenthesis "("'],
    ['echo ~', 'tilde expansion "~"'],
    ['echo ~root/x', 'tilde expansion "~"'],
    ['echo a=~/x', 'tilde expansion "~"'],
    ['echo PATH=/bin:~/bin', 'tilde expansion "~"'],
    ['echo # a comment', 'a comment "#"'],
    ['echo "$HOME"', '"$" inside double quotes'],
    ['echo "$(id)"', '"$" inside double quotes'],
    ['echo "`id`"', '"`" inside double quotes'],
    ["echo 'open", 'an unterminated single quote'],
    ['echo "open', 'an unterminated double quote'],
    ['echo x\\', 'a trailing backslash'],
    ['echo a\\\nb', 'a line continuation'],
    ['echo "a\\\nb"', 'a line continuation'],
    ['FOO=bar echo', 'a variable assignment "FOO=…"'],
  ])('%j', (line, what) => {
    const result = splitCommandLine(line);
    expect(result.ok).toBe(false);
    const problem = (result as { problem: string }).problem;
    expect(problem).toContain(what);
    expect(problem).toMatch(/^shell syntax is not supported: /);
  });

  it('says no shell runs and how to pass the text literally', () => {
    expect(splitCommandLine('echo a|b')).toEqual({
      ok: false,
      problem:
        'shell syntax is not supported: a pipe "|" at character 7; no shell runs the command; quote text meant literally, or give the arguments in "args"',
    });
  });

  it.each<[string, string]>([
    ['echo a\0b', 'must not contain a NUL byte (character 7)'],
    ["echo 'a\0b'", 'must not contain a NUL byte'],
    ['', 'is empty'],
    ['  \t ', 'is empty'],
  ])('%j', (line, problem) => {
    expect((splitCommandLine(line) as { problem: string }).problem).toContain(problem);
  });
});
