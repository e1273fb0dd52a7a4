<?php
// PHP upstream for the differential suite: router script for `php -S`.
// Reports every image a PHP app could get from $_FILES, $_POST, $_GET,
// $_REQUEST, a JSON body (json_decode of php://input when the Content-Type
// says JSON) and the raw body. See ../README.md.

// Warnings raised while PHP parsed the request (post_max_size, max_input_vars,
// bad multipart...) are kept by error_get_last(): read it before anything else.
$startup_error = error_get_last();
error_clear_last();

function has_magic(string $b): bool {
    if ($b === '') return false;
    return strncmp($b, "\xFF\xD8\xFF", 3) === 0
        || strncmp($b, "\x89PNG", 4) === 0
        || strncmp($b, "GIF8", 4) === 0
        || (strncmp($b, "RIFF", 4) === 0 && substr($b, 8, 4) === "WEBP")
        || strncmp($b, "BM", 2) === 0
        || strncmp($b, "II*\x00", 4) === 0
        || strncmp($b, "MM\x00*", 4) === 0
        || substr($b, 4, 4) === "ftyp"
        || strncmp($b, "\x1A\x45\xDF\xA3", 4) === 0;
}

final class Report {
    public bool $ok = true;
    public array $errors = [];
    public array $images = [];
    private array $seen = [];

    public function fail(string $where, string $msg): void {
        $this->ok = false;
        $this->errors[] = substr("$where: $msg", 0, 300);
    }

    public function add(string $field, string $via, string $data, ?string $path = null): void {
        if ($data === '') return;
        $h = hash('sha256', $data);
        $key = "$field\0$via\0$h";
        if (isset($this->seen[$key])) return;
        $this->seen[$key] = true;
        $this->images[] = ['field' => $field, 'via' => $via, 'sha256' => $h, 'path' => $path ?? $field, 'magic' => has_magic($data)];
    }

    public function str(string $field, string $via, $value, ?string $path = null): void {
        if (!is_string($value)) return;
        $found = [];
        if (has_magic($value)) $found[] = $value;
        $t = $value;
        if (strncasecmp($t, 'data:', 5) === 0 && strpos($t, ',') !== false) {
            $t = substr($t, strpos($t, ',') + 1);
        }
        foreach ([base64_decode($t), base64_decode(strtr($t, '-_', '+/'))] as $d) {
            if (is_string($d) && has_magic($d) && !in_array($d, $found, true)) $found[] = $d;
        }
        foreach ($found as $d) $this->add($field, $via, $d, $path);
    }

    // Form-shaped arrays ($_GET, $_POST, $_REQUEST): field = top-level key,
    // path = bracket notation (user[photo], selfie[0]).
    public function form(array $arr, string $via, ?array $other = null, string $otherVia = ''): void {
        $stack = [];
        foreach (array_reverse($arr, true) as $k => $v) $stack[] = [$v, (string)$k, (string)$k, [(string)$k]];
        while ($stack) {
            [$v, $top, $path, $keys] = array_pop($stack);
            if (is_array($v)) {
                foreach (array_reverse($v, true) as $k => $sub) {
                    $stack[] = [$sub, $top, $path . '[' . $k . ']', array_merge($keys, [(string)$k])];
                }
            } elseif (is_string($v)) {
                $via2 = $via;
                if ($other !== null && lookup($other, $keys) === $v) $via2 = $otherVia;
                $this->str($top, $via2, $v, $path);
            }
        }
    }

    // JSON documents: field = innermost object key (array elements: the key of the array).
    public function json($doc): void {
        $stack = [[$doc, '', '$']];
        while ($stack) {
            [$v, $key, $path] = array_pop($stack);
            if (is_string($v)) {
                $this->str($key, 'json', $v, $path);
            } elseif (is_array($v)) {
                $list = array_is_list($v);
                foreach (array_reverse($v, true) as $k => $sub) {
                    if ($list) $stack[] = [$sub, $key, $path . '[' . $k . ']'];
                    else $stack[] = [$sub, (string)$k, $path . '.' . $k];
                }
            }
        }
    }
}

function lookup(array $arr, array $keys) {
    $cur = $arr;
    foreach ($keys as $k) {
        if (!is_array($cur) || !array_key_exists($k, $cur)) return null;
        $cur = $cur[$k];
    }
    return $cur;
}

function ini_bytes(string $v): int {
    $v = trim($v);
    if ($v === '') return 0;
    $n = (int)$v;
    switch (strtolower(substr($v, -1))) {
        case 'g': $n *= 1024;
        case 'm': $n *= 1024;
        case 'k': $n *= 1024;
    }
    return $n;
}

function header_value(string $name): string {
    $k = 'HTTP_' . strtoupper(str_replace('-', '_', $name));
    return isset($_SERVER[$k]) ? (string)$_SERVER[$k] : '';
}

function is_json_type(string $ct): bool {
    $mt = strtolower(trim(explode(';', $ct, 2)[0]));
    return $mt === 'application/json' || (str_starts_with($mt, 'application/') && str_ends_with($mt, '+json'));
}

$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
$uri = $_SERVER['REQUEST_URI'] ?? '/';
if (($method === 'GET' || $method === 'HEAD') && $uri === '/') {
    header('Content-Type: text/plain');
    echo 'ready';
    return true;
}

$rep = new Report();
try {
    if ($startup_error !== null) {
        $rep->fail('php', $startup_error['message']);
    }
    $ct = (string)($_SERVER['CONTENT_TYPE'] ?? '');
    $len = (int)($_SERVER['CONTENT_LENGTH'] ?? 0);
    $max = ini_bytes((string)ini_get('post_max_size'));
    if ($max > 0 && $len > $max) {
        $rep->fail('php', "Content-Length $len exceeds post_max_size $max");
    }

    // $_FILES: walk tmp_name with the parallel error/size arrays.
    foreach ($_FILES as $top => $info) {
        $stack = [[$info['tmp_name'] ?? null, $info['error'] ?? null, (string)$top]];
        while ($stack) {
            [$tmp, $err, $path] = array_pop($stack);
            if (is_array($tmp)) {
                foreach (array_reverse($tmp, true) as $k => $sub) {
                    $stack[] = [$sub, is_array($err) ? ($err[$k] ?? null) : null, $path . '[' . $k . ']'];
                }
                continue;
            }
            if ($err !== UPLOAD_ERR_OK) {
                if ($err !== UPLOAD_ERR_NO_FILE) $rep->fail('php', "upload error $err for $path");
                continue;
            }
            if (is_string($tmp) && $tmp !== '' && is_uploaded_file($tmp)) {
                $data = file_get_contents($tmp);
                if (is_string($data)) $rep->add((string)$top, 'file', $data, $path);
            }
        }
    }

    $rep->form($_GET, 'query');
    $rep->form($_POST, 'form');
    // $_REQUEST (request_order=GP: $_POST wins): via from where the value came.
    $rep->form($_REQUEST, 'query', $_POST, 'form');

    $raw = file_get_contents('php://input');
    if (!is_string($raw)) $raw = '';
    if (has_magic($raw)) $rep->add('', 'body', $raw, '');
    if (is_json_type($ct)) {
        $doc = json_decode($raw, true, 512);
        if (json_last_error() !== JSON_ERROR_NONE) {
            $rep->fail('json', json_last_error_msg());
        } else {
            $rep->json($doc);
        }
    }
} catch (Throwable $e) {
    $rep->fail('handler', get_class($e) . ': ' . $e->getMessage());
}

header('Content-Type: application/json');
echo json_encode([
    'framework' => 'php',
    'ok' => $rep->ok,
    'error' => implode('; ', $rep->errors),
    'verdict' => header_value('X-Liveness-Verdict'),
    'judged' => header_value('X-Liveness-Image-Sha256'),
    'images' => $rep->images,
], JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR);
return true;
