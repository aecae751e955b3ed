import { randomInt } from "node:crypto";

// Random container names in Docker's adjective_surname style.
const ADJECTIVES = [
  "admiring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring", "brave", "busy",
  "charming", "clever", "compassionate", "competent", "confident", "cool", "cranky", "crazy", "dazzling",
  "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent",
  "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny",
  "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful",
  "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind",
  "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous",
  "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical",
  "priceless", "quirky", "quizzical", "relaxed", "reverent", "romantic", "sad", "serene", "sharp",
  "silly", "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty",
  "trusting", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial",
  "youthful", "zealous", "zen",
];
const SURNAMES = [
  "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "babbage", "banach", "bardeen",
  "bartik", "bassi", "bell", "benz", "bhabha", "blackwell", "bohr", "booth", "borg", "bose", "boyd",
  "brahmagupta", "brattain", "brown", "carson", "cerf", "chandrasekhar", "clarke", "colden", "cori",
  "cray", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley", "einstein", "elion",
  "engelbart", "euclid", "euler", "faraday", "fermat", "fermi", "feynman", "franklin", "galileo",
  "gauss", "goldberg", "goodall", "hamilton", "hawking", "heisenberg", "hertz", "hodgkin", "hopper",
  "hypatia", "jackson", "jennings", "johnson", "kalam", "keller", "kepler", "knuth", "lamarr",
  "lamport", "leakey", "liskov", "lovelace", "lumiere", "mayer", "mccarthy", "mcclintock", "meitner",
  "mendel", "merkle", "minsky", "montalcini", "morse", "napier", "newton", "nobel", "noether", "pascal",
  "pasteur", "perlman", "pike", "poincare", "ptolemy", "ramanujan", "ride", "ritchie", "rosalind",
  "sammet", "shannon", "shaw", "shockley", "sinoussi", "stallman", "swartz", "tesla", "thompson",
  "torvalds", "turing", "varahamihira", "volhard", "wescoff", "wiles", "williams", "wilson", "wing",
  "wozniak", "wright", "yalow", "yonath",
];

export function randomName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
}

/** Docker's rule for container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Byte-order string comparison (Go's `<` on strings), for sort(). Unlike localeCompare it
 * does not wake ICU's collator, which costs pierd ~3 MiB of resident memory.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
