import { MAX_ID_LENGTH } from '../../lib/lock/lock-id';

/** Ids a user could send: separators, dot segments, escapes, unicode (unpaired surrogates too), control characters. */
export const HOSTILE_IDS = [
  'a/b', 'a%2Fb', 'a%2fb', '%', '%%', '%0041', 'A', '.', '..', '...', './a', '../a', 'a/..', '/', '//', '/a',
  'a\\b', ' ', '  ', 'a b', '\t', '\n', '\u0000', '\u0001x', 'x\u007f', '\u0085', '\u00e9', 'e\u0301',
  '\ud83d\ude00', '\ud83d', '\ude00', '\ude00\ud83d', '\uffff', '\ufff0', '\uf8ff', '\ue000', '中文', 'zookeeper',
  'a%q', 'a%0071', 'w-0000000001', 'x'.repeat(MAX_ID_LENGTH), '%'.repeat(MAX_ID_LENGTH), '0', '-1', '1e3',
  'null', 'undefined', '[object Object]', '__proto__', 'constructor', 'a:b', 'a@b', 'a+b=c,d', '\u200b', 'Ω',
];

